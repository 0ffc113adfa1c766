fn main() {
    // libc-free/build.rs sets this cfg for the libc-free build of main.rs
    // (links eyra); declared here so this build knows the name.
    println!("cargo::rustc-check-cfg=cfg(nodistro_eyra)");
}
