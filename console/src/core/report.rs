//! `timeline` and the bring-up report, sans-IO: the boot's stages (from
//! [`nodistro_common::bootlog`]), the devices, the modules that failed (from
//! the timeline), the firmware the kernel did not get and the links without
//! carrier, on one screen.

use crate::core::devices::Device;
use crate::core::net::Link;
use crate::core::width::fit;
use nodistro_common::bootlog::{Kind, Stage};

fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// `timeline`: each stage with its start and duration.
pub fn timeline(stages: &[Stage]) -> String {
    if stages.is_empty() {
        return "no timeline recorded (init keeps one only with init.debug=console)\n".into();
    }
    let mut out = format!("{:>9} {:>9}  STAGE\n", "START s", "TOOK ms");
    for s in stages {
        let took = if s.kind == Kind::App {
            "running".to_string()
        } else {
            s.duration_ms().to_string()
        };
        out += &fit(&format!("{:>9} {:>9}  {}", secs(s.start_ms), took, s.label));
        out.push('\n');
    }
    out
}

/// `modload: cannot load NAME: reason` lines of the timeline.
pub fn failed_modules(timeline: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in timeline.lines() {
        let Some((_, rest)) = nodistro_common::bootlog::stamp(l) else {
            continue;
        };
        let Some(m) = rest.strip_prefix("modload: cannot load ") else {
            continue;
        };
        if let Some((name, why)) = m.split_once(": ") {
            if !out.iter().any(|(n, _)| n == name) {
                out.push((name.to_string(), why.to_string()));
            }
        }
    }
    out
}

/// Everything the report says.
pub struct Facts<'a> {
    pub devices: &'a [Device],
    pub failed: &'a [(String, String)],
    pub firmware: &'a [String],
    pub links: &'a [Link],
    pub stages: &'a [Stage],
}

/// Aliases shown per bus before "... and N more".
const PER_BUS: usize = 4;

/// The bring-up report: at most about 24 lines.
// long: the report's sections in the order they print, a few lines each.
pub fn report(f: &Facts) -> String {
    let mut out = String::from("bring-up report:\n");
    let orphans: Vec<&Device> = f
        .devices
        .iter()
        .filter(|d| d.driver.is_none() && d.alias.is_some())
        .collect();
    if orphans.is_empty() {
        out += "  every device with a modalias has a driver\n";
    } else {
        let mut buses: Vec<&str> = orphans.iter().map(|d| d.bus.as_str()).collect();
        buses.dedup();
        buses.sort();
        buses.dedup();
        out += &format!("  devices without a driver: {}\n", orphans.len());
        for bus in buses {
            let on: Vec<&&Device> = orphans.iter().filter(|d| d.bus == bus).collect();
            out += &format!("    {bus} ({}):\n", on.len());
            // One line per alias, with how many devices share it.
            let mut aliases: Vec<(&str, usize, String)> = Vec::new();
            for d in &on {
                let a = d.alias.as_deref().unwrap_or("");
                match aliases.iter_mut().find(|x| x.0 == a) {
                    Some(x) => x.1 += 1,
                    None => {
                        let hint = match &d.modules {
                            Some(m) if !m.is_empty() => format!(" [image has {}]", m.join(",")),
                            _ => String::new(),
                        };
                        aliases.push((a, 1, hint));
                    }
                }
            }
            for (a, n, hint) in aliases.iter().take(PER_BUS) {
                let times = if *n > 1 {
                    format!(" (x{n})")
                } else {
                    String::new()
                };
                out += &fit(&format!("      {a}{times}{hint}"));
                out.push('\n');
            }
            if aliases.len() > PER_BUS {
                out += &format!("      ... and {} more\n", aliases.len() - PER_BUS);
            }
        }
    }
    if f.failed.is_empty() {
        out += "  modules: none failed\n";
    }
    for (n, why) in f.failed.iter().take(4) {
        out += &fit(&format!("  module {n} failed: {why}"));
        out.push('\n');
    }
    if f.firmware.is_empty() {
        out += "  firmware: nothing missing\n";
    } else {
        out += &fit(&format!("  firmware missing: {}", f.firmware.join(" ")));
        out.push('\n');
    }
    let dark: Vec<&str> = f
        .links
        .iter()
        .filter(|l| l.carrier != Some(true) && l.name != "lo")
        .map(|l| l.name.as_str())
        .collect();
    out += &fit(&if dark.is_empty() {
        "  links: every link has carrier".to_string()
    } else {
        format!("  links without carrier: {}", dark.join(" "))
    });
    out.push('\n');
    let mut slow: Vec<&Stage> = f.stages.iter().filter(|s| s.kind != Kind::App).collect();
    slow.sort_by_key(|s| std::cmp::Reverse(s.duration_ms()));
    if !slow.is_empty() {
        out += "  slowest stages:\n";
        for s in slow.iter().take(3) {
            out += &fit(&format!("    {:>6} ms  {}", s.duration_ms(), s.label));
            out.push('\n');
        }
    }
    out += "  full lists: devices, dmesg, timeline (init.debug=console)\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nodistro_common::bootlog::stages;

    fn dev(bus: &str, alias: &str, driver: Option<&str>) -> Device {
        Device {
            bus: bus.into(),
            name: "x".into(),
            alias: Some(alias.into()),
            driver: driver.map(Into::into),
            modules: Some(vec![]),
        }
    }

    const LOG: &str = "[   0.880] init: mounts done in 6 ms\n[   0.885] init: starting modload\n\
[   1.190] modload: loaded virtio_pci in 131 ms\n[   1.200] modload: cannot load e1000e: unknown symbol\n\
[   1.240] init: modload: coldplug-done\n[   1.310] init: app /app/demo started (pid 9)\n";

    #[test]
    fn the_report_fits_one_screen() {
        let mut devices: Vec<Device> = (0..30)
            .map(|i| dev("platform", &format!("platform:dev{i}"), None))
            .collect();
        devices.push(dev("pci", "pci:v00008086d00007113", None));
        devices.push(dev("pci", "pci:v00001AF4d00001000", Some("virtio-pci")));
        let failed = failed_modules(LOG);
        assert_eq!(
            failed,
            [("e1000e".to_string(), "unknown symbol".to_string())]
        );
        let st = stages(LOG);
        let links = [Link {
            name: "eth0".into(),
            carrier: Some(false),
            ..Default::default()
        }];
        let r = report(&Facts {
            devices: &devices,
            failed: &failed,
            firmware: &["rtl_nic/rtl8168h-2.fw".into()],
            links: &links,
            stages: &st,
        });
        assert!(r.contains("devices without a driver: 31\n    pci (1):\n      pci:v00008086d00007113\n    platform (30):"), "{r}");
        assert!(r.contains("      ... and 26 more\n"), "{r}");
        assert!(r.contains("  module e1000e failed: unknown symbol\n"));
        assert!(r.contains("  firmware missing: rtl_nic/rtl8168h-2.fw\n"));
        assert!(r.contains("  links without carrier: eth0\n"));
        assert!(
            r.contains(
                "  slowest stages:\n       880 ms  kernel\n       355 ms  modload until coldplug-done\n       131 ms  virtio_pci\n"
            ),
            "{r}"
        );
        assert!(r.lines().count() <= 24, "{r}");
        assert!(r.lines().all(|l| l.chars().count() <= 80));
        let t = timeline(&st);
        assert!(t.contains("    1.310   running  app /app/demo"), "{t}");
        assert!(timeline(&[]).starts_with("no timeline"));
    }
}
