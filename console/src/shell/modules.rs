//! `modprobe NAME P=V` (through modload) and `rmmod NAME`.

use super::Console;

impl Console {
    pub(super) fn modprobe(&self, name: &str, params: &[String]) {
        match nodistro_modload::probe::probe(name, params) {
            Ok(lines) => {
                let mut t = String::new();
                for (m, what) in lines {
                    t += &if m.is_empty() {
                        what
                    } else {
                        format!("{m}: {what}")
                    };
                    t.push('\n');
                }
                self.out(&t);
            }
            Err(e) => self.out(&format!("error: {e}\n")),
        }
    }

    pub(super) fn rmmod(&self, name: &str) {
        let norm = name.replace('-', "_");
        let Ok(c) = std::ffi::CString::new(norm.clone()) else {
            self.out("error: bad module name\n");
            return;
        };
        use rustix::io::Errno;
        let nonblock = rustix::fs::OFlags::NONBLOCK.bits() as i32;
        match rustix::system::delete_module(&c, nonblock) {
            Ok(()) => self.out(&format!("{norm}: removed\n")),
            Err(e) => {
                let why = match e {
                    Errno::NOENT => "not loaded (see lsmod)".to_string(),
                    Errno::WOULDBLOCK => "in use (see lsmod's USED BY)".to_string(),
                    e => e.to_string(),
                };
                self.out(&format!("error: rmmod {norm}: {why}\n"));
            }
        }
    }
}
