//! The 18 canonical features of a field history.
//!
//! A history is `T` frames of an `N×N` field in volts (a single field is `T = 1`); the
//! *final* frame is the last one. With `Vmv = 1000·V` and population statistics
//! (`ddof = 0`, NumPy's pairwise summation), the features are, in this order:
//!
//! | # | name | definition |
//! |---|---|---|
//! | 1 | `D_box` | box-counting dimension of the final mask `V > θ` ([`crate::fractal`], `num_scales` sizes) |
//! | 2 | `D_r2` | R² of that box-count fit (a fit quality, despite the name) |
//! | 3–6 | `V_min`, `V_max`, `V_mean`, `V_std` | of the final `Vmv` |
//! | 7 | `V_skew` | `mean((Vmv − μ)³)/σ³` (0 if `σ ≤ 1e-10`) |
//! | 8 | `V_kurt` | `mean((Vmv − μ)⁴)/σ⁴ − 3` (excess kurtosis; 0 if `σ ≤ 1e-10`) |
//! | 9, 10 | `dV_mean`, `dV_max` | of `|Vmv_t − Vmv_(t−1)|` over all `t ≥ 1` and cells |
//! | 11 | `T_stable` | steps to quasi-stationarity (below) |
//! | 12 | `E_trend` | least-squares slope of `E_t = Σ Vmv_t²` against `t = 0 … T−1` |
//! | 13 | `f_active` | fraction of final cells with `V > θ` |
//! | 14–16 | `N_clusters_low/med/high` | connected components of `V > θ`, `> −50 mV`, `> −40 mV` |
//! | 17 | `max_cluster_size` | largest component of `V > θ` (0 if none) |
//! | 18 | `cluster_size_std` | population std of the component sizes of `V > θ` (0 if ≤ 1) |
//!
//! Components use 4-connectivity without wrap-around (the field itself is periodic, the
//! analysis is not — as in the reference).
//!
//! # Stationarity
//! With `s_t = std(|ΔVmv_t|)` for the `T − 1` differences and `w = stable_window`:
//! scan `t = 0, 1, …` counting consecutive `s_t < 0.001 mV`; at the first `t` where the
//! count reaches `w`, `T_stable = t − w + 2` (the first step of the stable run). If it
//! never does, `T_stable = T`. If `T < 2` or `T < w`, `T_stable = 0`, as are all the
//! temporal features when `T < 2`.
//!
//! # The activity threshold θ
//! By default `θ = −60 mV` ([`Threshold::FixedMv`]`(-60.0)`), the reference's choice and
//! the compatible default. On default simulations nothing exceeds −60 mV (fields sit
//! near −70 mV), so `D_box`, `D_r2` and the structural features at θ are all 0. Two
//! options make them informative:
//!
//! - [`Threshold::FixedMv`]`(x)`: use `x` mV instead of −60 for `D_box`/`D_r2`,
//!   `f_active`, `N_clusters_low`, `max_cluster_size` and `cluster_size_std`; the mask
//!   is `V > x/1000` (volts, strict), exactly as the reference compares.
//! - [`Threshold::AdaptiveMedian`]: θ is the median of the final `Vmv` (mean of the two
//!   middle values for an even count, as `np.median`), the mask `Vmv > θ` (strict), so
//!   about half the cells are active and the box count measures the shape of the
//!   upper half of the field. On the default 64×64, 64-step field of seed 42 this gives
//!   `D_box = 1.785` (R² = 0.9996).
//!
//! The −50 and −40 mV thresholds of `N_clusters_med/high` never change.
//!
//! ```
//! use mfn_core::features::{extract_features, FeatureOptions, Features};
//! let n = 4;
//! let field = vec![-0.070; n * n];
//! let f = extract_features(&[field], n, &FeatureOptions::default())?;
//! assert_eq!(f.v_mean, -70.0);
//! assert_eq!(Features::NAMES[4], "V_mean");
//! # Ok::<(), mfn_core::CoreError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result, check_range_usize};
use crate::fractal::{BoxCountParams, box_count};
use crate::stats;

/// Fixed threshold of `N_clusters_med`, in mV.
pub const THRESHOLD_MED_MV: f64 = -50.0;

/// Fixed threshold of `N_clusters_high`, in mV.
pub const THRESHOLD_HIGH_MV: f64 = -40.0;

/// Default activity threshold θ, in mV.
pub const DEFAULT_THRESHOLD_MV: f64 = -60.0;

/// `s_t` below this (mV) counts as stable.
pub const STABILITY_THRESHOLD_MV: f64 = 0.001;

/// Largest accepted `stable_window`.
pub const MAX_STABLE_WINDOW: usize = 1_000_000;

/// Activity threshold θ used for the fractal and the low-threshold structural features.
///
/// ```
/// use mfn_core::features::Threshold;
/// assert_eq!(Threshold::default(), Threshold::FixedMv(-60.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Threshold {
    /// A fixed threshold in millivolts (mask `V > x/1000` volts).
    FixedMv(f64),
    /// The median of the final field in millivolts (mask `Vmv > median`).
    AdaptiveMedian,
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold::FixedMv(DEFAULT_THRESHOLD_MV)
    }
}

/// Options of [`extract_features`].
///
/// ```
/// let o = mfn_core::features::FeatureOptions::default();
/// assert_eq!((o.num_scales, o.stable_window), (5, 10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureOptions {
    /// Activity threshold θ (default −60 mV).
    pub threshold: Threshold,
    /// Number of box-counting scales, in `[2, 64]` (default 5).
    pub num_scales: usize,
    /// Consecutive stable differences required for `T_stable`, in `[1, 1_000_000]`
    /// (default 10).
    pub stable_window: usize,
}

impl Default for FeatureOptions {
    fn default() -> Self {
        FeatureOptions {
            threshold: Threshold::default(),
            num_scales: 5,
            stable_window: 10,
        }
    }
}

/// The 18 canonical features (see the module docs); serialised with the canonical
/// names (`D_box`, `D_r2`, `V_min`, …) as keys, in canonical order.
///
/// ```
/// use mfn_core::features::{extract_features, FeatureOptions};
/// let f = extract_features(&[vec![-0.07; 16]], 4, &FeatureOptions::default())?;
/// let json = serde_json::to_string(&f).unwrap();
/// assert!(json.starts_with(r#"{"D_box":0.0,"D_r2":0.0,"V_min":"#));
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Features {
    /// Box-counting dimension of the final `V > θ` mask.
    #[serde(rename = "D_box")]
    pub d_box: f64,
    /// R² of the box-count fit.
    #[serde(rename = "D_r2")]
    pub d_r2: f64,
    /// Minimum of the final field, mV.
    #[serde(rename = "V_min")]
    pub v_min: f64,
    /// Maximum of the final field, mV.
    #[serde(rename = "V_max")]
    pub v_max: f64,
    /// Mean of the final field, mV.
    #[serde(rename = "V_mean")]
    pub v_mean: f64,
    /// Population standard deviation of the final field, mV.
    #[serde(rename = "V_std")]
    pub v_std: f64,
    /// Skewness of the final field.
    #[serde(rename = "V_skew")]
    pub v_skew: f64,
    /// Excess kurtosis of the final field.
    #[serde(rename = "V_kurt")]
    pub v_kurt: f64,
    /// Mean absolute change per step, mV.
    #[serde(rename = "dV_mean")]
    pub dv_mean: f64,
    /// Largest absolute change per step, mV.
    #[serde(rename = "dV_max")]
    pub dv_max: f64,
    /// Steps to quasi-stationarity.
    #[serde(rename = "T_stable")]
    pub t_stable: f64,
    /// Slope of the field energy `Σ Vmv²` per step, mV².
    #[serde(rename = "E_trend")]
    pub e_trend: f64,
    /// Fraction of final cells above θ.
    #[serde(rename = "f_active")]
    pub f_active: f64,
    /// Components above θ.
    #[serde(rename = "N_clusters_low")]
    pub n_clusters_low: f64,
    /// Components above −50 mV.
    #[serde(rename = "N_clusters_med")]
    pub n_clusters_med: f64,
    /// Components above −40 mV.
    #[serde(rename = "N_clusters_high")]
    pub n_clusters_high: f64,
    /// Size of the largest component above θ, in cells.
    #[serde(rename = "max_cluster_size")]
    pub max_cluster_size: f64,
    /// Population std of the component sizes above θ.
    #[serde(rename = "cluster_size_std")]
    pub cluster_size_std: f64,
}

impl Features {
    /// Canonical names, in canonical order.
    pub const NAMES: [&'static str; 18] = [
        "D_box",
        "D_r2",
        "V_min",
        "V_max",
        "V_mean",
        "V_std",
        "V_skew",
        "V_kurt",
        "dV_mean",
        "dV_max",
        "T_stable",
        "E_trend",
        "f_active",
        "N_clusters_low",
        "N_clusters_med",
        "N_clusters_high",
        "max_cluster_size",
        "cluster_size_std",
    ];

    /// The values in canonical order (parallel to [`Features::NAMES`]).
    ///
    /// ```
    /// use mfn_core::features::{extract_features, FeatureOptions};
    /// let f = extract_features(&[vec![-0.07; 16]], 4, &FeatureOptions::default())?;
    /// assert_eq!(f.values()[2], f.v_min);
    /// # Ok::<(), mfn_core::CoreError>(())
    /// ```
    pub fn values(&self) -> [f64; 18] {
        [
            self.d_box,
            self.d_r2,
            self.v_min,
            self.v_max,
            self.v_mean,
            self.v_std,
            self.v_skew,
            self.v_kurt,
            self.dv_mean,
            self.dv_max,
            self.t_stable,
            self.e_trend,
            self.f_active,
            self.n_clusters_low,
            self.n_clusters_med,
            self.n_clusters_high,
            self.max_cluster_size,
            self.cluster_size_std,
        ]
    }

    /// `(name, value)` pairs in canonical order.
    ///
    /// ```
    /// use mfn_core::features::{extract_features, FeatureOptions};
    /// let f = extract_features(&[vec![-0.07; 16]], 4, &FeatureOptions::default())?;
    /// assert_eq!(f.to_pairs()[10], ("T_stable", 0.0));
    /// # Ok::<(), mfn_core::CoreError>(())
    /// ```
    pub fn to_pairs(&self) -> Vec<(&'static str, f64)> {
        Self::NAMES.iter().copied().zip(self.values()).collect()
    }
}

/// Compute the 18 features of a history of `n×n` frames (volts, row-major; the last
/// frame is the final field).
///
/// Errors: empty history, `n = 0`, a frame whose length is not `n²` or that holds a
/// non-finite value (naming the frame), a non-finite fixed threshold, `num_scales`
/// outside `[2, 64]`, `stable_window` outside `[1, 1_000_000]`.
///
/// ```
/// use mfn_core::features::{extract_features, FeatureOptions, Threshold};
/// let n = 4;
/// // Two active cells in opposite corners: two clusters at any θ below −30 mV.
/// let mut field = vec![-0.070; n * n];
/// field[0] = -0.030;
/// field[15] = -0.030;
/// let f = extract_features(&[field.clone()], n, &FeatureOptions::default())?;
/// assert_eq!((f.n_clusters_low, f.n_clusters_high, f.max_cluster_size), (2.0, 2.0, 1.0));
/// let opts = FeatureOptions { threshold: Threshold::FixedMv(-20.0), ..Default::default() };
/// assert_eq!(extract_features(&[field], n, &opts)?.n_clusters_low, 0.0);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn extract_features(history: &[Vec<f64>], n: usize, opts: &FeatureOptions) -> Result<Features> {
    validate(history, n, opts)?;
    let final_v = &history[history.len() - 1];
    let vmv: Vec<f64> = final_v.iter().map(|&v| v * 1000.0).collect();

    // The activity mask at θ.
    let mask_low: Vec<bool> = match opts.threshold {
        Threshold::FixedMv(t) => {
            let t_v = t / 1000.0;
            final_v.iter().map(|&v| v > t_v).collect()
        }
        Threshold::AdaptiveMedian => {
            let med = median(&vmv);
            vmv.iter().map(|&v| v > med).collect()
        }
    };

    let fit = box_count(
        &mask_low,
        n,
        &BoxCountParams {
            min_box: 2,
            max_box: None,
            num_scales: opts.num_scales,
        },
    )?;

    let (v_min, v_max) = stats::min_max(&vmv);
    let v_mean = stats::mean(&vmv);
    let v_std = stats::std(&vmv);
    let (v_skew, v_kurt) = if v_std > 1e-10 {
        let c3: Vec<f64> = vmv.iter().map(|&v| (v - v_mean).powf(3.0)).collect();
        let c4: Vec<f64> = vmv.iter().map(|&v| (v - v_mean).powf(4.0)).collect();
        (
            stats::mean(&c3) / v_std.powf(3.0),
            stats::mean(&c4) / v_std.powf(4.0) - 3.0,
        )
    } else {
        (0.0, 0.0)
    };

    let temporal = temporal_features(history, opts.stable_window);

    let active = mask_low.iter().filter(|&&a| a).count();
    let f_active = active as f64 / mask_low.len() as f64;
    let sizes_low = cluster_sizes(&mask_low, n)?;
    let mask_med: Vec<bool> = final_v
        .iter()
        .map(|&v| v > THRESHOLD_MED_MV / 1000.0)
        .collect();
    let mask_high: Vec<bool> = final_v
        .iter()
        .map(|&v| v > THRESHOLD_HIGH_MV / 1000.0)
        .collect();
    let n_med = cluster_sizes(&mask_med, n)?.len();
    let n_high = cluster_sizes(&mask_high, n)?.len();
    let max_cluster_size = sizes_low.iter().copied().max().unwrap_or(0);
    let cluster_size_std = if sizes_low.len() > 1 {
        let s: Vec<f64> = sizes_low.iter().map(|&s| s as f64).collect();
        stats::std(&s)
    } else {
        0.0
    };

    Ok(Features {
        d_box: fit.dimension,
        d_r2: fit.r_squared,
        v_min,
        v_max,
        v_mean,
        v_std,
        v_skew,
        v_kurt,
        dv_mean: temporal.dv_mean,
        dv_max: temporal.dv_max,
        t_stable: temporal.t_stable as f64,
        e_trend: temporal.e_trend,
        f_active,
        n_clusters_low: sizes_low.len() as f64,
        n_clusters_med: n_med as f64,
        n_clusters_high: n_high as f64,
        max_cluster_size: max_cluster_size as f64,
        cluster_size_std,
    })
}

/// Sizes of the 4-connected components of the true cells of an `n×n` row-major mask
/// (no wrap-around), in the order of each component's first cell in a row-major scan.
///
/// ```
/// let mask = [
///     true, true, false,
///     false, false, false,
///     true, false, true,
/// ];
/// assert_eq!(mfn_core::features::cluster_sizes(&mask, 3)?, vec![2, 1, 1]);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn cluster_sizes(mask: &[bool], n: usize) -> Result<Vec<usize>> {
    if n == 0 || n.checked_mul(n) != Some(mask.len()) {
        return Err(CoreError::invalid(
            "mask",
            format!("length {} is not n*n for n = {n}", mask.len()),
        ));
    }
    let mut seen = vec![false; mask.len()];
    let mut stack = Vec::new();
    let mut sizes = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut size = 0;
        while let Some(k) = stack.pop() {
            size += 1;
            let (i, j) = (k / n, k % n);
            let mut visit = |q: usize| {
                if mask[q] && !seen[q] {
                    seen[q] = true;
                    stack.push(q);
                }
            };
            if i > 0 {
                visit(k - n);
            }
            if i + 1 < n {
                visit(k + n);
            }
            if j > 0 {
                visit(k - 1);
            }
            if j + 1 < n {
                visit(k + 1);
            }
        }
        sizes.push(size);
    }
    Ok(sizes)
}

struct Temporal {
    dv_mean: f64,
    dv_max: f64,
    t_stable: usize,
    e_trend: f64,
}

fn temporal_features(history: &[Vec<f64>], window: usize) -> Temporal {
    let t_len = history.len();
    if t_len < 2 {
        return Temporal {
            dv_mean: 0.0,
            dv_max: 0.0,
            t_stable: 0,
            e_trend: 0.0,
        };
    }
    let cells = history[0].len();

    // |Vmv_t − Vmv_(t−1)| for the flattened (T−1)×N×N array, element k.
    let diff_at = |k: usize| {
        let (t, c) = (k / cells + 1, k % cells);
        (history[t][c] * 1000.0 - history[t - 1][c] * 1000.0).abs()
    };
    let total = (t_len - 1) * cells;
    let dv_mean = stats::sum(&stats::FromFn {
        len: total,
        f: diff_at,
    }) / total as f64;

    let mut dv_max = f64::NEG_INFINITY;
    let mut frame = vec![0.0; cells];
    let mut stds = Vec::with_capacity(t_len - 1);
    for t in 1..t_len {
        for (c, d) in frame.iter_mut().enumerate() {
            *d = diff_at((t - 1) * cells + c);
            dv_max = dv_max.max(*d);
        }
        stds.push(stats::std(&frame));
    }

    let t_stable = if window > t_len {
        0
    } else {
        let mut run = 0;
        let mut found = None;
        for (t, &s) in stds.iter().enumerate() {
            if s < STABILITY_THRESHOLD_MV {
                run += 1;
                if run >= window {
                    found = Some(t + 2 - window);
                    break;
                }
            } else {
                run = 0;
            }
        }
        found.unwrap_or(t_len)
    };

    let energies: Vec<f64> = history
        .iter()
        .map(|h| {
            for (e, &v) in frame.iter_mut().zip(h) {
                let mv = v * 1000.0;
                *e = mv * mv;
            }
            stats::sum(&frame)
        })
        .collect();
    let times: Vec<f64> = (0..t_len).map(|t| t as f64).collect();
    let e_trend = stats::linear_fit(&times, &energies).map_or(0.0, |(slope, _, _)| slope);

    Temporal {
        dv_mean,
        dv_max,
        t_stable,
        e_trend,
    }
}

/// `np.median` of a non-empty slice: the middle value, or the mean of the two middle
/// values for an even count.
pub(crate) fn median(a: &[f64]) -> f64 {
    let mut s = a.to_vec();
    s.sort_unstable_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

fn validate(history: &[Vec<f64>], n: usize, opts: &FeatureOptions) -> Result<()> {
    if let Threshold::FixedMv(t) = opts.threshold
        && !t.is_finite()
    {
        return Err(CoreError::out_of_range(
            "threshold_mv",
            t,
            "must be a finite number of millivolts",
        ));
    }
    check_range_usize("num_scales", opts.num_scales, 2, 64)?;
    check_range_usize("stable_window", opts.stable_window, 1, MAX_STABLE_WINDOW)?;
    if n == 0 {
        return Err(CoreError::out_of_range("n", n, "must be >= 1"));
    }
    if history.is_empty() {
        return Err(CoreError::invalid("history", "needs at least one frame"));
    }
    let cells = n
        .checked_mul(n)
        .ok_or_else(|| CoreError::out_of_range("n", n, "n*n must fit in memory"))?;
    for (t, frame) in history.iter().enumerate() {
        if frame.len() != cells {
            return Err(CoreError::invalid(
                "history",
                format!(
                    "frame {t} has {} values, expected n*n = {cells}",
                    frame.len()
                ),
            ));
        }
        if let Some(i) = frame.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::invalid(
                "history",
                format!("frame {t} has a non-finite value at index {i}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_even_and_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn t_stable_edges() {
        // A frozen history of 12 frames: 11 zero differences, stable from step 1.
        let h = vec![vec![-0.07; 4]; 12];
        assert_eq!(temporal_features(&h, 10).t_stable, 1);
        // Fewer frames than the window.
        assert_eq!(temporal_features(&h[..9], 10).t_stable, 0);
        // T = window: only window − 1 differences, never stable → T.
        assert_eq!(temporal_features(&h[..10], 10).t_stable, 10);
        assert_eq!(temporal_features(&h[..1], 10).t_stable, 0);
    }
}
