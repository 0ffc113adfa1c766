//! Figures over benchmark runs.

/// Median, minimum and maximum of `v`; None when empty.
pub fn median_min_max(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((med, v[0], v[n - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median_min_max(vec![]), None);
        assert_eq!(median_min_max(vec![3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(
            median_min_max(vec![4.0, 1.0, 2.0, 3.0]),
            Some((2.5, 1.0, 4.0))
        );
    }
}
