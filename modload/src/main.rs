fn main() {
    std::process::exit(nodistro_modload::main_with_args(
        std::env::args_os().collect(),
    ));
}
