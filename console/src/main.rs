fn main() {
    std::process::exit(nodistro_console::main_with_args(
        std::env::args_os().collect(),
    ));
}
