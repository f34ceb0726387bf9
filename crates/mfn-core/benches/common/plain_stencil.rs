//! The machine-limit yardstick for the field kernel: a plain periodic 5-point stencil
//! `u ← u + α·L(u)` on one array (double-buffered), no growth, no Turing, no clamp.
//! Interior columns in a branch-free loop, the two wrap columns apart, dispatched to
//! the best instruction set like the kernel (so both use AVX2 where the CPU has it).
//! Shared by `benches/core.rs` and `examples/kernel_timing.rs`.

/// Run `steps` stencil steps on the `n×n` array `u` (`scratch` is the second buffer).
#[expect(
    clippy::needless_range_loop,
    reason = "the yardstick is the plain indexed loop a user would write"
)]
pub fn plain_stencil(u: &mut Vec<f64>, scratch: &mut Vec<f64>, n: usize, steps: usize, alpha: f64) {
    let arch = pulp::Arch::new();
    for _ in 0..steps {
        arch.dispatch(|| {
            for r in 0..n {
                let up = &u[((r + n - 1) % n) * n..][..n];
                let mid = &u[r * n..][..n];
                let down = &u[((r + 1) % n) * n..][..n];
                let out = &mut scratch[r * n..][..n];
                let cell = |c: usize, l: usize, rr: usize| {
                    mid[c] + alpha * (up[c] + down[c] + mid[l] + mid[rr] - 4.0 * mid[c])
                };
                for c in 1..n - 1 {
                    out[c] = cell(c, c - 1, c + 1);
                }
                out[0] = cell(0, n - 1, 1);
                out[n - 1] = cell(n - 1, n - 2, 0);
            }
        });
        std::mem::swap(u, scratch);
    }
}
