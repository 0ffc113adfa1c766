//! `nodistro chart CONSOLE_LOG -o boot.svg`: the boot drawn from a captured
//! console log, like `systemd-analyze plot`: kernel start, /init, each
//! helper's start and readiness, each module load, the DHCP exchange, the
//! app's start, as labelled bars on a time axis. The drawing is sans-IO
//! (console text in, SVG text out); the stages come from
//! [`nodistro_common::bootlog`], the parser the debug console's `timeline`
//! uses too.

use argh::FromArgs;
use nodistro_common::bootlog::{stages, Kind, Stage};
use std::fmt::Write;
use std::path::PathBuf;

/// draw the boot from a console log (what `nodistro run` prints, or any
/// serial capture) as an SVG chart
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "chart")]
pub struct ChartArgs {
    /// the console log
    #[argh(positional)]
    pub log: PathBuf,
    /// the SVG to write
    #[argh(option, short = 'o')]
    pub output: PathBuf,
}

const ROW: u64 = 22;
const TOP: u64 = 60;
const LEFT: u64 = 20;
const WIDTH: u64 = 1200;

fn color(k: Kind) -> &'static str {
    match k {
        Kind::Kernel => "#9e9e9e",
        Kind::Init => "#5c6bc0",
        Kind::Helper => "#26a69a",
        Kind::Module => "#ffa726",
        Kind::Network => "#42a5f5",
        Kind::Pause => "#ef5350",
        Kind::App => "#66bb6a",
    }
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

/// A time-axis step (ms) giving about 10 to 20 ticks.
fn tick_step(total_ms: u64) -> u64 {
    [
        50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000,
    ]
    .into_iter()
    .find(|s| total_ms / s <= 20)
    .unwrap_or(120_000)
}

/// The chart of the stages in `console` text; `None` when it holds no
/// nodistro boot.
pub fn svg(console: &str) -> Option<String> {
    let st: Vec<Stage> = stages(console);
    if st.is_empty() {
        return None;
    }
    let end = st.iter().map(|s| s.end_ms).max().unwrap_or(1).max(1);
    let step = tick_step(end);
    let total = end.div_ceil(step) * step;
    let plot = WIDTH - LEFT - 20;
    let x = |ms: u64| LEFT + ms * plot / total;
    let height = TOP + st.len() as u64 * ROW + 40;
    let mut o = String::new();
    let _ = write!(
        o,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"22\" font-size=\"16\" font-weight=\"bold\">nodistro boot: {} stages, last at {}.{:03} s</text>\n",
        st.len(),
        end / 1000,
        end % 1000
    );
    let mut t = 0;
    while t <= total {
        let _ = write!(
            o,
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#e0e0e0\"/>\n\
             <text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\" fill=\"#616161\">{4}.{5:02} s</text>\n",
            x(t),
            TOP - 8,
            height - 30,
            TOP - 14,
            t / 1000,
            t % 1000 / 10
        );
        t += step;
    }
    for (i, s) in st.iter().enumerate() {
        bar(&mut o, i, s, x);
    }
    legend(&mut o, height);
    o.push_str("</svg>\n");
    Some(o)
}

/// Stage `s`'s bar, in row `i`, with its label; `x` maps ms to pixels.
fn bar(o: &mut String, i: usize, s: &Stage, x: impl Fn(u64) -> u64) {
    let y = TOP + i as u64 * ROW;
    let (x0, x1) = (x(s.start_ms), x(s.end_ms));
    let w = (x1 - x0).max(2);
    let label = if s.kind == Kind::App {
        format!(
            "{} (started at {}.{:03} s)",
            s.label,
            s.start_ms / 1000,
            s.start_ms % 1000
        )
    } else {
        format!("{} ({} ms)", s.label, s.duration_ms())
    };
    // Labels right of the bar, or left of it near the right edge.
    let (tx, anchor) = if x0 + w + 8 + 7 * label.len() as u64 > WIDTH {
        (x0.saturating_sub(4), "end")
    } else {
        (x0 + w + 4, "start")
    };
    let _ = writeln!(
        o,
        "<g><title>{lab}</title><rect x=\"{x0}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{c}\" rx=\"2\"/>\
         <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"{anchor}\">{lab}</text></g>",
        lab = xml_escape(&label),
        h = ROW - 6,
        c = color(s.kind),
        ty = y + ROW - 10,
    );
}

/// The colours' legend along the bottom of a chart `height` high.
fn legend(o: &mut String, height: u64) {
    let ly = height - 12;
    let mut lx = LEFT;
    for (k, name) in [
        (Kind::Kernel, "kernel"),
        (Kind::Init, "init"),
        (Kind::Helper, "helper start to ready"),
        (Kind::Module, "module load"),
        (Kind::Network, "DHCP"),
        (Kind::Pause, "paused (init.break)"),
        (Kind::App, "app"),
    ] {
        let _ = writeln!(
            o,
            "<rect x=\"{lx}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{ly}\">{name}</text>",
            ly - 10,
            color(k),
            lx + 16
        );
        lx += 40 + 7 * name.len() as u64;
    }
}

/// Write the chart of `console` to `out`; the error is a one-line message.
pub fn write_chart(console: &str, out: &std::path::Path) -> Result<usize, String> {
    let text = svg(console)
        .ok_or("no nodistro boot timeline in the log (lines like `[   1.234] init: ...`)")?;
    std::fs::write(out, &text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(stages(console).len())
}

pub fn main(a: ChartArgs) -> i32 {
    let bytes = match std::fs::read(&a.log) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "nodistro chart: error: cannot read {}: {e}",
                a.log.display()
            );
            return 1;
        }
    };
    match write_chart(&String::from_utf8_lossy(&bytes), &a.output) {
        Ok(n) => {
            eprintln!("nodistro chart: {n} stages drawn to {}", a.output.display());
            0
        }
        Err(e) => {
            eprintln!("nodistro chart: error: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "[    0.000000] Linux version 6.1\n[   0.880] init: mounts done in 6 ms\n\
[   0.885] init: starting modload\n[   1.190] modload: loaded virtio_pci in 131 ms\n\
[   1.240] init: modload: coldplug-done\n[   1.241] init: starting netcfg\n\
[   1.296] netcfg: eth0 10.0.2.15/24 router 10.0.2.2 (in 45 ms)\n[   1.300] init: netcfg: online eth0\n\
[   1.310] init: app /app/a<b>&c started (pid 9)\n";

    #[test]
    fn one_bar_per_stage_with_labels() {
        let s = svg(LOG).expect("test input");
        assert!(s.starts_with("<?xml"));
        assert!(s.ends_with("</svg>\n"));
        assert_eq!(s.matches("<g><title>").count(), stages(LOG).len());
        for l in [
            "kernel (880 ms)",
            "mounts (6 ms)",
            "virtio_pci (131 ms)",
            "DHCP eth0 10.0.2.15/24 (45 ms)",
            "modload until coldplug-done (355 ms)",
        ] {
            assert!(s.contains(l), "{l} in\n{s}");
        }
        assert!(
            s.contains("app /app/a&lt;b&gt;&amp;c (started at 1.310 s)"),
            "escaped"
        );
        assert!(svg("no boot here\n").is_none());
        assert_eq!(tick_step(1310), 100);
        assert_eq!(tick_step(30_000), 2000);
    }
}
