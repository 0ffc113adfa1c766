//! The argh prelude every entry point shares: `main_with_args` hands over
//! `args[0]` (the program name, as the multicall binary was called) and the
//! rest; `--help` prints and exits 0, a usage error prints and exits 2.

use argh::FromArgs;
use std::ffi::OsString;

/// Parse `args` (with the program name first) into `T`. `Err(code)` is the
/// exit code to return after help or a usage error was printed. Arguments
/// that are not UTF-8 are refused with a message naming them.
pub fn parse<T: FromArgs>(default_name: &str, args: Vec<OsString>) -> Result<T, i32> {
    let mut strings = Vec::with_capacity(args.len());
    for a in args {
        match a.into_string() {
            Ok(s) => strings.push(s),
            Err(bad) => {
                eprintln!("{default_name}: argument {bad:?} is not valid UTF-8");
                return Err(2);
            }
        }
    }
    let name = strings.first().map_or(default_name, String::as_str);
    let rest: Vec<&str> = strings.iter().skip(1).map(String::as_str).collect();
    T::from_args(&[name], &rest).map_err(|early| {
        if early.status.is_ok() {
            println!("{}", early.output);
            0
        } else {
            eprintln!("{}", early.output);
            2
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// test tool
    #[derive(FromArgs, Debug)]
    struct Args {
        /// a flag
        #[argh(switch)]
        on: bool,
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_help_and_errors() {
        let a: Args = parse("t", os(&["/bin/t", "--on"])).expect("parses");
        assert!(a.on);
        assert_eq!(parse::<Args>("t", os(&["t", "--help"])).err(), Some(0));
        assert_eq!(parse::<Args>("t", os(&["t", "--nope"])).err(), Some(2));
        assert!(parse::<Args>("t", vec![]).is_ok());
    }
}
