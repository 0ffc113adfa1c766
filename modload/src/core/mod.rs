//! modload's sans-IO core: kmod's pattern matching and name rules
//! (`fnmatch`), a module's `.modinfo` (`modinfo`), kmod's text files
//! (`textfiles`, `depindex`, `softdep`) and binary tries (`kmodbin`), the
//! index files depmod would write (`depmod`), the name hash (`hash`), a
//! batch of aliases for prefix search (`queries`), the parallel loader's
//! bookkeeping (`schedule`), which tree a run uses (`kernel`), the
//! `.ko.gz/.xz/.zst` decoders (`decompress`). Bytes in, bytes or answers
//! out: no system call, no clock (source_invariants checks this directory).

pub mod decompress;
pub(crate) mod depindex;
pub mod depmod;
pub mod fnmatch;
pub(crate) mod hash;
pub(crate) mod kernel;
pub mod kmodbin;
pub mod modinfo;
pub(crate) mod queries;
pub(crate) mod schedule;
pub(crate) mod softdep;
pub(crate) mod textfiles;
