//! packaging's sans-IO core: the formats `nodistro` reads and writes
//! (cpio and the image's entries, ELF, PE and the UKI, FAT, GPT, MBR, the A/B disk layout,
//! ld.so.cache, OCI images' index, layers and config, build files) and
//! the logic over them (dynamic linking, signature checks, QEMU's stop
//! policy). Fed bytes, paths and time; no IO, no clock (the build's
//! SOURCE_DATE_EPOCH is passed in; source_invariants checks the
//! directory).

pub mod abdisk;
pub mod arch;
pub mod buildfile;
pub mod cpio;
pub mod digest;
pub mod dynlink;
pub mod elf;
pub mod fat;
pub mod gpt;
pub mod ldcache;
pub mod mbr;
pub mod nodes;
pub mod oci;
pub mod pe;
pub mod qemu;
pub mod signcheck;
pub mod uki;
