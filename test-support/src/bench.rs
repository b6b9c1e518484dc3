//! What the benchmarks print: percentiles of their samples and one machine-readable line a figure.

/// The `p` quantile (0.0 to 1.0) of `sorted` by nearest rank. Panics on an empty slice.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

/// Prints one figure as the `BENCH name=value unit=...` line `scripts/bench` collects.
pub fn figure(name: &str, value: f64, unit: &str) {
    println!("BENCH {name}={value:.3} unit={unit}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let sorted: Vec<f64> = (1..=101).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.0), 1.0);
        assert_eq!(percentile(&sorted, 0.5), 51.0);
        assert_eq!(percentile(&sorted, 0.99), 100.0);
        assert_eq!(percentile(&sorted, 1.0), 101.0);
    }
}
