fn main() {
    std::process::exit(nodistro_init::main_with_args(std::env::args_os().collect()));
}
