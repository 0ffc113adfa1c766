//! An image's entries as values (sans-IO): what a path holds and where a
//! file's bytes come from, and the parents a path needs. `crate::image`
//! reads the host's files into them and writes the archive.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

/// One entry of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32 },
    File { source: Source, mode: u32 },
    Symlink { target: String },
    CharDev { mode: u32, major: u32, minor: u32 },
}

impl Node {
    /// /dev/console (5:1, root only): where the kernel starts init's
    /// stdio before devtmpfs is mounted.
    pub fn console() -> Node {
        Node::CharDev {
            mode: 0o600,
            major: 5,
            minor: 1,
        }
    }
}

/// Create the missing parents of `path` in `nodes` as 0755 directories;
/// the first parent that is not a directory is the error.
pub fn make_parents(nodes: &mut BTreeMap<String, Node>, path: &str) -> Result<(), String> {
    let mut end = 0;
    while let Some(i) = path[end..].find('/') {
        let parent = &path[..end + i];
        match nodes.get(parent) {
            None => {
                nodes.insert(parent.to_string(), Node::Dir { mode: 0o755 });
            }
            Some(Node::Dir { .. }) => {}
            Some(_) => return Err(parent.to_string()),
        }
        end += i + 1;
    }
    Ok(())
}
