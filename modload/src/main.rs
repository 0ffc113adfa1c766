fn main() {
    // The standalone modload decompresses modules the kernel cannot
    // (nodistro-box leaves the decoders out; see decompress.rs).
    nodistro_modload::decompress::enable();
    std::process::exit(nodistro_modload::main_with_args(
        std::env::args_os().collect(),
    ));
}
