//! `devices`, sans-IO: every bus device with its modalias, the driver bound
//! to it or "no driver" and whether a module in the image matches.

use crate::core::width::fit;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub bus: String,
    pub name: String,
    pub alias: Option<String>,
    pub driver: Option<String>,
    /// Modules of the image whose aliases match (`None`: index unreadable).
    pub modules: Option<Vec<String>>,
}

impl Device {
    /// The words after the name: the driver, or why there is none.
    pub fn status(&self) -> String {
        match (&self.driver, &self.alias, &self.modules) {
            (Some(d), _, _) => d.clone(),
            (None, None, _) => "no driver (no modalias)".into(),
            (None, Some(_), None) => "no driver (module index unreadable)".into(),
            (None, Some(_), Some(m)) if m.is_empty() => "no driver (no module in the image)".into(),
            (None, Some(_), Some(m)) => format!("no driver (image has {}, not bound)", m.join(",")),
        }
    }
}

/// The `devices` listing: one line per device, its alias on the next.
pub fn devices(list: &[Device]) -> String {
    let mut out = format!("{:<9} {:<22} DRIVER\n", "BUS", "DEVICE");
    for d in list {
        out += &fit(&format!("{:<9} {:<22} {}", d.bus, d.name, d.status()));
        out.push('\n');
        if let Some(a) = &d.alias {
            out += &fit(&format!("          {a}"));
            out.push('\n');
        }
    }
    let bound = list.iter().filter(|d| d.driver.is_some()).count();
    out += &format!(
        "{} devices, {} with a driver, {} without\n",
        list.len(),
        bound,
        list.len() - bound
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> Vec<Device> {
        vec![
            Device {
                bus: "pci".into(),
                name: "0000:00:03.0".into(),
                alias: Some("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00".into()),
                driver: Some("virtio-pci".into()),
                modules: Some(vec!["virtio_pci".into()]),
            },
            Device {
                bus: "pci".into(),
                name: "0000:00:01.3".into(),
                alias: Some("pci:v00008086d00007113sv00001AF4sd00001100bc06sc80i00".into()),
                driver: None,
                modules: Some(vec![]),
            },
            Device {
                bus: "virtio".into(),
                name: "virtio0".into(),
                alias: Some("virtio:d00000001v00001AF4".into()),
                driver: None,
                modules: Some(vec!["virtio_net".into()]),
            },
            Device {
                bus: "memory".into(),
                name: "memory0".into(),
                alias: None,
                driver: None,
                modules: None,
            },
        ]
    }

    #[test]
    fn listing() {
        let t = devices(&sample());
        assert!(
            t.contains("pci       0000:00:03.0           virtio-pci\n          pci:v00001AF4"),
            "{t}"
        );
        assert!(
            t.contains("0000:00:01.3           no driver (no module in the image)"),
            "{t}"
        );
        assert!(
            t.contains("no driver (image has virtio_net, not bound)"),
            "{t}"
        );
        assert!(
            t.contains("memory0                no driver (no modalias)"),
            "{t}"
        );
        assert!(t.ends_with("4 devices, 1 with a driver, 3 without\n"));
        assert!(t.lines().all(|l| l.chars().count() <= 80));
    }
}
