//! Power buttons (sans-IO): which input device is one, and whether its
//! events hold a press. `crate::buttons` opens and reads them.

/// Whether an input device of this name (`/sys/class/input/*/device/name`)
/// is a machine's power button: the ACPI button (x86, `virt` under UEFI),
/// or the device-tree GPIO keys of QEMU's arm `virt` booted without
/// firmware, whose one key is KEY_POWER (only KEY_POWER presses count).
pub fn is_power_button(name: &str) -> bool {
    matches!(name.trim(), "Power Button" | "gpio-keys")
}

/// `struct input_event` on 64-bit: timeval (16), type u16, code u16, value i32.
pub const INPUT_EVENT_SIZE: usize = 24;

/// Whether these input events hold a KEY_POWER press (EV_KEY, value 1).
pub fn has_power_press(events: &[u8]) -> bool {
    const EV_KEY: u16 = 1;
    const KEY_POWER: u16 = 116;
    events.chunks_exact(INPUT_EVENT_SIZE).any(|ev| {
        let ty = u16::from_ne_bytes([ev[16], ev[17]]);
        let code = u16::from_ne_bytes([ev[18], ev[19]]);
        let value = i32::from_ne_bytes([ev[20], ev[21], ev[22], ev[23]]);
        ty == EV_KEY && code == KEY_POWER && value == 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_buttons_by_name() {
        assert!(is_power_button("Power Button\n"));
        assert!(is_power_button("gpio-keys\n"));
        assert!(!is_power_button("AT Translated Set 2 keyboard\n"));
        assert!(!is_power_button(""));
    }

    fn event(ty: u16, code: u16, value: i32) -> Vec<u8> {
        let mut e = vec![0u8; 16];
        e.extend(ty.to_ne_bytes());
        e.extend(code.to_ne_bytes());
        e.extend(value.to_ne_bytes());
        e
    }

    #[test]
    fn power_press_among_events() {
        let syn = event(0, 0, 0);
        let release = event(1, 116, 0);
        let other_key = event(1, 30, 1);
        assert!(!has_power_press(
            &[syn.clone(), release, other_key].concat()
        ));
        assert!(has_power_press(&[syn, event(1, 116, 1)].concat()));
        assert!(!has_power_press(&event(1, 116, 1)[..20]), "truncated event");
    }
}
