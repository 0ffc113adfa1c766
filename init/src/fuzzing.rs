//! Fuzz harness: the configuration PID 1 reads from outside
//! (/etc/nodistro.conf and the kernel command line) into init's plan. PID 1
//! never panics on it. The cargo-fuzz target (init/fuzz) calls this; a
//! stable test runs it over the kept corpus.

use crate::config::InitConfig;
use nodistro_common::{Cmdline, Config};

/// `data` up to its first NUL is the file, the rest the command line.
#[doc(hidden)]
pub fn config(data: &[u8]) {
    let (file, cmdline) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (mut cfg, _) = Config::parse(&String::from_utf8_lossy(file));
    let cmdline = Cmdline::parse(&String::from_utf8_lossy(cmdline));
    cfg.override_with(&cmdline, &[]);
    let _ = InitConfig::from_config(&cfg, &cmdline.init_args);
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_corpus() {
        let seeds: &[&[u8]] = &[
            b"init.app=/app/x\ninit.uid=1000\ninit.grace=2.5\ninit.on_exit=restart\n\0init.arg=-v -- a b",
            b"init.helpers=netcfg,logfwd\ninit.uid=root\ninit.grace=-1\ninit.workdir=rel\n",
        ];
        for i in nodistro_common::fuzzing::inputs(env!("CARGO_MANIFEST_DIR"), "config", seeds) {
            super::config(&i);
        }
    }
}
