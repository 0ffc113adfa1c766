fn main() {
    // eyra's origin provides the program entry (_start): no crt1.o/crti.o.
    println!("cargo:rustc-link-arg=-nostartfiles");
}
