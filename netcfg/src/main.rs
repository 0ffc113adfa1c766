fn main() {
    std::process::exit(nodistro_netcfg::main_with_args(
        std::env::args_os().collect(),
    ));
}
