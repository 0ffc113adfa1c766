fn main() {
    std::process::exit(nodistro_logfwd::main_with_args(
        std::env::args_os().collect(),
    ));
}
