fn main() {
    std::process::exit(nodistro_packaging::main_with_args(
        std::env::args_os().collect(),
    ));
}
