fn main() {
    // multicall/src/main.rs links eyra under this cfg.
    println!("cargo::rustc-check-cfg=cfg(nodistro_eyra)");
    println!("cargo:rustc-cfg=nodistro_eyra");
    // eyra's origin provides the program entry (_start): no crt1.o/crti.o.
    println!("cargo:rustc-link-arg=-nostartfiles");
}
