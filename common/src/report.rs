//! One-line error reports for `main`: the whole `source()` chain joined with
//! `: `, so a serial console shows what failed, where and why on one line.

use std::error::Error;

/// `outer: middle: root cause`.
pub fn chain(err: &dyn Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

/// Print `tool: error: chain` on stderr and return the exit code to use.
pub fn fail(tool: &str, err: &dyn Error, code: i32) -> i32 {
    eprintln!("{tool}: error: {}", chain(err));
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot load module e1000")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn joins_sources() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        assert_eq!(chain(&e), "cannot load module e1000: no such file");
    }
}
