fn main() {
    std::process::exit(nodistro_update::main_with_args(
        std::env::args_os().collect(),
    ));
}
