//! Random numbers bit-compatible with NumPy's `default_rng(seed)`.
//!
//! NumPy's `Generator(PCG64(SeedSequence(seed)))` is the stream every stochastic
//! routine of the Python reference draws from. [`Rng`] reproduces it exactly, so a
//! user who migrates gets the same bytes for the same seed.
//!
//! # Seeding: `SeedSequence`
//! The seed is split into 32-bit words (little-endian) and hashed into a pool of four
//! 32-bit words (O'Neill's `seed_seq` design as adopted by NumPy):
//!
//! ```text
//! hashmix(v, h):  v ^= h; h *= 0x931e8875; v *= h; v ^= v >> 16
//! mix(x, y):      r = 0xca01f9dd·x − 0x4973f715·y;  r ^= r >> 16
//! ```
//!
//! all arithmetic modulo 2³². `generate_state` then draws output words from the pool
//! with a second hash constant (`0x8b51f9dd`, multiplier `0x58f38ded`).
//!
//! # Generator: PCG64 (XSL-RR 128/64)
//! State `s` and odd increment `c` are 128-bit; a step is `s ← s·M + c (mod 2¹²⁸)` with
//! `M = 0x2360ed051fc65da44385df649fccf645`. The output of a step is
//! `rotr64(hi(s) ⊕ lo(s), hi(s) >> 58)` — step first, then output (O'Neill 2014).
//! NumPy seeds it with four 64-bit words `w` from `SeedSequence`:
//! `initstate = w0·2⁶⁴ + w1`, `initseq = w2·2⁶⁴ + w3`, `c = 2·initseq + 1`,
//! `s = 0; step; s += initstate; step`.
//!
//! # Distributions
//! - `random()` = `(u64 >> 11)·2⁻⁵³`, `uniform(lo, hi)` = `lo + (hi − lo)·random()`.
//! - `standard_normal()`: NumPy's 256-layer ziggurat (Marsaglia & Tsang 2000) with the
//!   tail `r = 3.6541528853610088`, using NumPy's own tables (they were computed in
//!   double precision and cannot be re-derived bit for bit; see `ziggurat_tables`).
//! - `integers(0, n)`: Lemire's nearly-divisionless bounded method (Lemire 2019) over
//!   32-bit draws; PCG64's 32-bit draw hands out the low half of a 64-bit output and
//!   keeps the high half for the next 32-bit draw. The 64-bit draws do not touch that
//!   cache, exactly as in NumPy.
//!
//! ```
//! use mfn_core::rng::Rng;
//! let mut rng = Rng::new(42);
//! assert_eq!(rng.next_u64(), 14276969152011380360);
//! assert_eq!(rng.random(), 0.4388784397520523);
//! ```

use std::sync::OnceLock;

const PCG_MULT: u128 = 0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645;
/// PCG64's XSL-RR output of a state.
#[inline(always)]
fn pcg_output(state: u128) -> u64 {
    let hi = (state >> 64) as u64;
    let lo = state as u64;
    (hi ^ lo).rotate_right((hi >> 58) as u32)
}

/// Draws taken together by [`Lanes`].
const LANES: usize = 4;

/// The step `s ← s·mul + add` (mod 2¹²⁸) that moves a state some draws ahead: for k
/// draws, `mul = M^k` and `add = c·(1 + M + … + M^(k−1))`, the composition of k steps
/// `s ← s·M + c`.
#[derive(Clone, Copy)]
struct Jump {
    mul: u128,
    add: u128,
}

impl Jump {
    /// The step that moves a state `delta` draws ahead, by squaring and multiplying over
    /// the bits of `delta`: O(log delta) 128-bit products.
    fn by(inc: u128, mut delta: u128) -> Self {
        let mut j = Jump { mul: 1, add: 0 };
        let mut p = Jump {
            mul: PCG_MULT,
            add: inc,
        };
        while delta > 0 {
            if delta & 1 == 1 {
                j = Jump {
                    mul: j.mul.wrapping_mul(p.mul),
                    add: j.add.wrapping_mul(p.mul).wrapping_add(p.add),
                };
            }
            p = Jump {
                mul: p.mul.wrapping_mul(p.mul),
                add: p.mul.wrapping_add(1).wrapping_mul(p.add),
            };
            delta >>= 1;
        }
        j
    }
}

/// The states of the next [`LANES`] draws of one stream. A step `s ← s·M + c` is a
/// 128-bit multiply that waits for the previous one; four lanes each jumping four
/// draws ([`Jump`]) are four independent chains, so bulk draws run at the multiplier's
/// throughput rather than its latency. The numbers are those of stepping one at a time.
struct Lanes([u128; LANES]);

impl Lanes {
    /// The lanes after `state`: the states of its next four draws.
    #[inline(always)]
    fn new(mut state: u128, inc: u128) -> Self {
        let mut s = [0; LANES];
        for lane in &mut s {
            state = state.wrapping_mul(PCG_MULT).wrapping_add(inc);
            *lane = state;
        }
        Lanes(s)
    }

    /// Every lane [`LANES`] draws ahead.
    #[inline(always)]
    fn advance(&mut self, j: Jump) {
        for s in &mut self.0 {
            *s = s.wrapping_mul(j.mul).wrapping_add(j.add);
        }
    }
}

/// The complete state of NumPy's `PCG64` bit generator, as
/// `Generator.bit_generator.state` shows it:
///
/// ```text
/// {"bit_generator": "PCG64",
///  "state": {"state": <state>, "inc": <inc>},
///  "has_uint32": <has_uint32>, "uinteger": <uinteger>}
/// ```
///
/// Reading it with [`Rng::pcg64_state`] and writing it back into NumPy (or building an
/// [`Rng`] from NumPy's with [`Rng::from_pcg64_state`]) hands a stream over between the
/// two mid-way, the cached 32-bit half included.
///
/// ```
/// use mfn_core::rng::Rng;
/// let mut a = Rng::new(42);
/// a.next_u32(); // leaves the high half cached
/// let mut b = Rng::from_pcg64_state(a.pcg64_state());
/// assert_eq!((a.next_u32(), a.next_u64()), (b.next_u32(), b.next_u64()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pcg64State {
    /// The 128-bit LCG state (`state["state"]["state"]`).
    pub state: u128,
    /// The 128-bit increment (`state["state"]["inc"]`; odd for every seeded stream).
    pub inc: u128,
    /// Whether the next 32-bit draw hands out `uinteger` (`has_uint32`).
    pub has_uint32: bool,
    /// The high half of the last 64-bit draw a 32-bit draw made (`uinteger`). NumPy
    /// keeps it after handing it out (`has_uint32` is then false), and so does this, so
    /// the whole state round-trips.
    pub uinteger: u32,
}

/// NumPy-compatible random generator: `numpy.random.default_rng(seed)`.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u128,
    inc: u128,
    /// Whether the next [`Rng::next_u32`] hands out `uinteger`.
    has_uint32: bool,
    /// High half of the last 64-bit draw made by [`Rng::next_u32`].
    uinteger: u32,
}

impl Rng {
    /// The generator NumPy builds for `default_rng(seed)`.
    ///
    /// ```
    /// let mut rng = mfn_core::rng::Rng::new(42);
    /// assert_eq!(rng.integers(64), 5);
    /// ```
    pub fn new(seed: u64) -> Self {
        let w = SeedSequence::new(seed).generate_state_u64::<4>();
        let initstate = (u128::from(w[0]) << 64) | u128::from(w[1]);
        let initseq = (u128::from(w[2]) << 64) | u128::from(w[3]);
        let mut rng = Rng {
            state: 0,
            inc: (initseq << 1) | 1,
            has_uint32: false,
            uinteger: 0,
        };
        rng.step();
        rng.state = rng.state.wrapping_add(initstate);
        rng.step();
        rng
    }

    /// The generator NumPy's `PCG64` holds in state `s` (see [`Pcg64State`]). NumPy
    /// accepts any `inc` when a state is assigned, and so does this.
    pub fn from_pcg64_state(s: Pcg64State) -> Self {
        Rng {
            state: s.state,
            inc: s.inc,
            has_uint32: s.has_uint32,
            uinteger: s.uinteger,
        }
    }

    /// The state to hand back to NumPy's `PCG64` (see [`Pcg64State`]).
    pub fn pcg64_state(&self) -> Pcg64State {
        Pcg64State {
            state: self.state,
            inc: self.inc,
            has_uint32: self.has_uint32,
            uinteger: self.uinteger,
        }
    }

    #[inline(always)]
    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    /// The stream as it is after `draws` more 64-bit draws, without drawing them: the
    /// cached 32-bit half is left alone, as those draws would leave it. (NumPy's
    /// `PCG64.advance` also clears that cache, so this is not its twin.) Lets a
    /// stretch of one-word draws (uniforms) be drawn in pieces side by side.
    pub(crate) fn skip(&mut self, draws: u64) {
        let j = Jump::by(self.inc, u128::from(draws));
        self.state = self.state.wrapping_mul(j.mul).wrapping_add(j.add);
    }

    /// Next raw 64-bit output.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        pcg_output(self.state)
    }

    /// Next raw 32-bit output: the low half of a fresh 64-bit draw, or the cached high
    /// half of the previous one.
    ///
    /// ```
    /// let mut rng = mfn_core::rng::Rng::new(42);
    /// let full = mfn_core::rng::Rng::new(42).next_u64();
    /// assert_eq!(rng.next_u32(), full as u32);
    /// assert_eq!(rng.next_u32(), (full >> 32) as u32);
    /// ```
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.has_uint32 {
            self.has_uint32 = false;
            return self.uinteger;
        }
        let next = self.next_u64();
        self.has_uint32 = true;
        self.uinteger = (next >> 32) as u32;
        next as u32
    }

    /// Uniform double in `[0, 1)`: `(u64 >> 11)·2⁻⁵³`.
    #[inline(always)]
    pub fn random(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `lo + (hi − lo)·random()`, as NumPy's `uniform`.
    ///
    /// ```
    /// let x = mfn_core::rng::Rng::new(1).uniform(0.2, 0.5);
    /// assert!((0.2..0.5).contains(&x));
    /// ```
    #[inline]
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let range = hi - lo;
        lo + range * self.random()
    }

    /// Standard normal deviate from NumPy's 256-layer ziggurat.
    ///
    /// ```
    /// let z = mfn_core::rng::Rng::new(42).standard_normal();
    /// assert_eq!(z, 0.30471707975443135);
    /// ```
    pub fn standard_normal(&mut self) -> f64 {
        let r = self.next_u64();
        self.standard_normal_from(r)
    }

    /// The ziggurat's accept test on one 64-bit draw: the deviate, or `None` when the
    /// draw falls outside the layer's rectangle (about 1 % of draws).
    #[inline(always)]
    fn ziggurat_fast(t: &Ziggurat, r: u64) -> Option<f64> {
        let idx = (r & 0xff) as usize;
        let r = r >> 8;
        let sign = r & 1;
        let rabs = (r >> 1) & 0x000f_ffff_ffff_ffff;
        let x = rabs as f64 * t.w[idx];
        // The sign bit set from the draw's bit, which is `-x` exactly: written so, not as
        // `if sign == 1 { -x }`, because that compiled to a branch the CPU mispredicts
        // on half the draws (measured: 7.8 → 3.8 ns a normal).
        (rabs < t.k[idx]).then_some(f64::from_bits(x.to_bits() ^ (sign << 63)))
    }

    /// [`Rng::standard_normal`] whose first 64-bit draw `r` was already taken.
    fn standard_normal_from(&mut self, first: u64) -> f64 {
        let t = ziggurat();
        let mut draw = first;
        loop {
            let idx = (draw & 0xff) as usize;
            let r = draw >> 8;
            let sign = r & 1;
            let rabs = (r >> 1) & 0x000f_ffff_ffff_ffff;
            let x = f64::from_bits((rabs as f64 * t.w[idx]).to_bits() ^ (sign << 63));
            if rabs < t.k[idx] {
                return x;
            }
            if idx == 0 {
                loop {
                    // 1 − U avoids log(0).
                    let xx = -ZIG_INV_R * (-self.random()).ln_1p();
                    let yy = -(-self.random()).ln_1p();
                    if yy + yy > xx * xx {
                        return if (rabs >> 8) & 1 == 1 {
                            -(ZIG_R + xx)
                        } else {
                            ZIG_R + xx
                        };
                    }
                }
            } else if (t.f[idx - 1] - t.f[idx]) * self.random() + t.f[idx] < (-0.5 * x * x).exp() {
                return x;
            }
            draw = self.next_u64();
        }
    }

    /// `loc + scale·z`, as NumPy's `normal`.
    #[inline]
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.standard_normal()
    }

    /// Uniform integer in `[0, n)` as NumPy's `integers(0, n)` for `1 ≤ n ≤ 2³²`
    /// (Lemire's method on 32-bit draws). `n = 1` consumes nothing and returns 0.
    ///
    /// # Panics
    /// If `n == 0` or `n > 2³²`; callers validate sizes first.
    pub fn integers(&mut self, n: u64) -> u64 {
        assert!(
            (1..=1 << 32).contains(&n),
            "integers(0, n) needs 1 <= n <= 2^32"
        );
        let rng = n - 1; // NumPy works with the inclusive range
        if rng == 0 {
            return 0;
        }
        if rng == 0xffff_ffff {
            return u64::from(self.next_u32());
        }
        let rng_excl = n; // fits u32 here
        let mut m = u64::from(self.next_u32()) * rng_excl;
        let mut leftover = m & 0xffff_ffff;
        if leftover < rng_excl {
            let threshold = (u64::from(u32::MAX) - rng) % rng_excl;
            while leftover < threshold {
                m = u64::from(self.next_u32()) * rng_excl;
                leftover = m & 0xffff_ffff;
            }
        }
        m >> 32
    }

    /// Fill `out` with `normal(loc, scale)` draws in order (NumPy array draws are
    /// row-major). Same values and final state as repeated [`Rng::normal`], with the
    /// ziggurat's table looked up once, its fast path inlined and the 64-bit draws taken
    /// from four interleaved lanes of the stream (same numbers, more throughput).
    pub fn fill_normal(&mut self, out: &mut [f64], loc: f64, scale: f64) {
        self.fill_normal_noting(out, loc, scale, |_, _| {});
    }

    /// [`Rng::fill_normal`], calling `long(k, draws)` for each normal `k` of `out`
    /// that took more than one 64-bit draw (the ziggurat's slow path, 1.5 % of them).
    #[inline(always)]
    fn fill_normal_noting(
        &mut self,
        out: &mut [f64],
        loc: f64,
        scale: f64,
        mut long: impl FnMut(usize, u64),
    ) {
        let t = ziggurat();
        let jump = Jump::by(self.inc, LANES as u128);
        let mut lanes = Lanes::new(self.state, self.inc);
        let mut k = 0;
        let mut last = self.state;
        for (at, v) in out.iter_mut().enumerate() {
            if k == LANES {
                lanes.advance(jump);
                k = 0;
            }
            last = lanes.0[k];
            k += 1;
            let r = pcg_output(last);
            let z = match Self::ziggurat_fast(t, r) {
                Some(z) => z,
                None => {
                    // The slow path draws more: from this draw's state, one at a time,
                    // then the lanes start again where it stopped.
                    self.state = last;
                    let z = self.standard_normal_from(r);
                    long(at, self.draws_since(last));
                    last = self.state;
                    lanes = Lanes::new(last, self.inc);
                    k = 0;
                    z
                }
            };
            *v = loc + scale * z;
        }
        self.state = last;
    }

    /// The draws from the one that left the stream at `first` to now, both counted.
    /// For the few draws of one normal's slow path.
    fn draws_since(&self, mut first: u128) -> u64 {
        let mut draws = 1;
        while first != self.state {
            first = first.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
            draws += 1;
        }
        draws
    }

    /// [`Rng::fill_normal`] over `rows` in order (one array cut into pieces: a padded
    /// grid's rows), the same values and final state, on two threads of the rayon pool.
    ///
    /// A normal takes one 64-bit draw, or more on the ziggurat's slow path, so where the
    /// second half's normals start in the stream is known only once the first half is
    /// drawn. Meanwhile the other thread draws from a guess — `h` draws on, for `h`
    /// normals in the first half, the place they would end if each took one, at or
    /// before the true one — into `spare`, noting the normals that took more. Where
    /// the first half ends (`h` plus its extra draws), the guessed parse is the true
    /// one from the first guessed normal that starts there: the two parses of one
    /// stream agree from any draw at which both start a normal. If the end falls
    /// inside a guessed normal of several draws, this thread draws on, one normal at a
    /// time, until it reaches a start both share (the next draw, nearly always). The
    /// guess's normals from there fill the second half; any it did not reach are drawn
    /// after it. The guess draws the second half's `t` normals and `h/32 + 64` more,
    /// for the first half's extra draws (2.2 % of its normals: 1.5 % of normals take
    /// two draws or more, over 10⁷ of seed 3). Falls back to one thread when `spare`
    /// has no room for them.
    pub(crate) fn fill_normal_rows(
        &mut self,
        rows: &mut [&mut [f64]],
        spare: &mut [f64],
        loc: f64,
        scale: f64,
    ) {
        let half = rows.len() / 2;
        let h: usize = rows[..half].iter().map(|r| r.len()).sum();
        let t: usize = rows[half..].iter().map(|r| r.len()).sum();
        let m = t + h / 32 + 64;
        if spare.len() < m {
            for row in rows {
                self.fill_normal(row, loc, scale);
            }
            return;
        }
        self.fill_normal_guessing(rows, &mut spare[..m], loc, scale, h as u64);
    }

    /// [`Rng::fill_normal_rows`] with the guess `ahead` draws on, `spare.len()`
    /// normals long (any: the bytes are the same); returns how many of the second
    /// half's normals this thread drew past the first half, how many came from the
    /// guess and how many were drawn after it.
    fn fill_normal_guessing(
        &mut self,
        rows: &mut [&mut [f64]],
        spare: &mut [f64],
        loc: f64,
        scale: f64,
        ahead: u64,
    ) -> [usize; 3] {
        let (head, tail) = rows.split_at_mut(rows.len() / 2);
        let h: usize = head.iter().map(|r| r.len()).sum();
        let t: usize = tail.iter().map(|r| r.len()).sum();
        let m = spare.len();
        let start = self.clone();
        let mut guess = start.clone();
        guess.skip(ahead);
        let (head_extra, long) = rayon::join(
            || {
                let mut extra = 0;
                for row in head {
                    self.fill_normal_noting(row, loc, scale, |_, d| extra += d - 1);
                }
                extra
            },
            || {
                let mut long = Vec::new();
                guess.fill_normal_noting(spare, loc, scale, |k, d| long.push((k, d)));
                long
            },
        );
        // The guessed normal that starts `pos` draws from `start`; Err if none does
        // (`pos` before the guess, or inside one of its normals of several draws).
        let guessed_at = |pos: u64| -> Result<usize, ()> {
            if pos < ahead {
                return Err(());
            }
            let mut extra = 0;
            for &(k, d) in &long {
                let at = ahead + k as u64 + extra;
                if pos <= at {
                    break;
                }
                if pos < at + d {
                    return Err(());
                }
                extra += d - 1;
            }
            Ok((pos - ahead - extra) as usize)
        };
        let start_of = |j: usize| {
            let extra: u64 = long
                .iter()
                .take_while(|&&(k, _)| k < j)
                .map(|&(_, d)| d - 1)
                .sum();
            ahead + j as u64 + extra
        };
        // Normals past the first half drawn on this thread until a start both share
        // (none if the first half ends where a guessed normal starts).
        let mut gap = Vec::new();
        let mut pos = h as u64 + head_extra;
        let j = loop {
            if gap.len() == t {
                break usize::MAX;
            }
            match guessed_at(pos) {
                Ok(j) => break j,
                Err(()) => {
                    let r = self.next_u64();
                    let first = self.state;
                    gap.push(loc + scale * self.standard_normal_from(r));
                    pos += self.draws_since(first);
                }
            }
        };
        // The second half: the gap, then the guess's normals from j, then (rarely)
        // more from where the guess stopped, or from here if this thread drew past it.
        let g = gap.len();
        let c = if j <= m { (t - g).min(m - j) } else { 0 };
        let mut rest = if j <= m { guess.clone() } else { self.clone() };
        let mut from = [&gap[..], &spare[j.min(m)..j.min(m) + c]];
        let mut k = 0;
        for row in tail {
            let mut row = &mut row[..];
            while !row.is_empty() {
                while k < from.len() && from[k].is_empty() {
                    k += 1;
                }
                let Some(src) = from.get_mut(k) else {
                    rest.fill_normal(row, loc, scale);
                    break;
                };
                let n = src.len().min(row.len());
                row[..n].copy_from_slice(&src[..n]);
                *src = &src[n..];
                row = &mut row[n..];
            }
        }
        if g + c < t {
            *self = rest;
        } else if c > 0 {
            *self = if j + c == m {
                guess
            } else {
                let mut at = start;
                at.skip(start_of(j + c));
                at
            };
        }
        [g, c, t - g - c]
    }

    /// Fill `out` with `uniform(lo, hi)` draws in order: the same values and final state
    /// as repeated [`Rng::uniform`], the 64-bit draws taken from four interleaved lanes.
    pub fn fill_uniform(&mut self, out: &mut [f64], lo: f64, hi: f64) {
        let range = hi - lo;
        let unit = |st: u128| (pcg_output(st) >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0);
        let jump = Jump::by(self.inc, LANES as u128);
        let mut lanes = Lanes::new(self.state, self.inc);
        let mut chunks = out.chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            for (v, &st) in chunk.iter_mut().zip(&lanes.0) {
                *v = lo + range * unit(st);
            }
            self.state = lanes.0[LANES - 1];
            lanes.advance(jump);
        }
        for (v, &st) in chunks.into_remainder().iter_mut().zip(&lanes.0) {
            *v = lo + range * unit(st);
            self.state = st;
        }
    }

    /// Random permutation of `0..n` as NumPy's `Generator.permutation(n)` (Fisher–Yates
    /// from the end, `j = integers(0, i + 1)`), for `n ≤ 2³²`.
    ///
    /// ```
    /// let p = mfn_core::rng::Rng::new(3).permutation(5);
    /// let mut s = p.clone();
    /// s.sort();
    /// assert_eq!(s, vec![0, 1, 2, 3, 4]);
    /// ```
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        self.shuffle(&mut v);
        v
    }

    /// In-place shuffle as NumPy's `Generator.shuffle` of a 1-D array.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        let n = v.len();
        if n <= 1 {
            return;
        }
        for i in (1..n).rev() {
            let j = self.bounded_u64_masked_or_lemire(i as u64) as usize;
            v.swap(i, j);
        }
    }

    /// NumPy's `random_interval`-free shuffle draw: `random_bounded_uint64(0, i)`
    /// without masking, i.e. Lemire on 32 bits when `i < 2³²`.
    fn bounded_u64_masked_or_lemire(&mut self, max_inclusive: u64) -> u64 {
        self.integers(max_inclusive + 1)
    }
}

/// NumPy's `SeedSequence` for an integer entropy with no spawn key and pool size 4.
#[derive(Clone, Debug)]
pub struct SeedSequence {
    pool: [u32; 4],
}

const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;

impl SeedSequence {
    /// Hash `seed` into the entropy pool.
    ///
    /// ```
    /// let s = mfn_core::rng::SeedSequence::new(42).generate_state_u64::<4>();
    /// assert_eq!(s[0], 0x9f1e2e6dcd540ab7);
    /// ```
    pub fn new(seed: u64) -> Self {
        // Entropy as little-endian 32-bit words, at least one word.
        let entropy: Vec<u32> = if seed >> 32 == 0 {
            vec![seed as u32]
        } else {
            vec![seed as u32, (seed >> 32) as u32]
        };
        let mut hash_const = INIT_A;
        let mut hashmix = |value: u32| -> u32 {
            let mut v = value ^ hash_const;
            hash_const = hash_const.wrapping_mul(MULT_A);
            v = v.wrapping_mul(hash_const);
            v ^ (v >> XSHIFT)
        };
        let mix = |x: u32, y: u32| -> u32 {
            let r = MIX_MULT_L
                .wrapping_mul(x)
                .wrapping_sub(MIX_MULT_R.wrapping_mul(y));
            r ^ (r >> XSHIFT)
        };
        let mut pool = [0u32; 4];
        for (i, p) in pool.iter_mut().enumerate() {
            *p = hashmix(entropy.get(i).copied().unwrap_or(0));
        }
        for i_src in 0..4 {
            for i_dst in 0..4 {
                if i_src != i_dst {
                    let h = hashmix(pool[i_src]);
                    pool[i_dst] = mix(pool[i_dst], h);
                }
            }
        }
        // Entropy longer than the pool never happens for a u64 seed (≤ 2 words).
        SeedSequence { pool }
    }

    /// `generate_state(N, uint32)`.
    pub fn generate_state_u32(&self, n_words: usize) -> Vec<u32> {
        let mut hash_const = INIT_B;
        (0..n_words)
            .map(|i| {
                let mut v = self.pool[i % 4] ^ hash_const;
                hash_const = hash_const.wrapping_mul(MULT_B);
                v = v.wrapping_mul(hash_const);
                v ^ (v >> XSHIFT)
            })
            .collect()
    }

    /// `generate_state(N, uint64)`: pairs of 32-bit words, low word first.
    pub fn generate_state_u64<const N: usize>(&self) -> [u64; N] {
        let words = self.generate_state_u32(2 * N);
        let mut out = [0u64; N];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u64::from(words[2 * i]) | (u64::from(words[2 * i + 1]) << 32);
        }
        out
    }
}

const ZIG_R: f64 = 3.654_152_885_361_009;
const ZIG_INV_R: f64 = 0.273_661_237_329_758_3;

struct Ziggurat {
    k: &'static [u64; 256],
    w: [f64; 256],
    f: [f64; 256],
}

fn ziggurat() -> &'static Ziggurat {
    use crate::ziggurat_tables::{FI_BITS, KI, WI_BITS};
    static TABLES: OnceLock<Ziggurat> = OnceLock::new();
    TABLES.get_or_init(|| Ziggurat {
        k: &KI,
        w: WI_BITS.map(f64::from_bits),
        f: FI_BITS.map(f64::from_bits),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_u64_golden() {
        let mut r = Rng::new(42);
        assert_eq!(r.next_u64(), 14276969152011380360);
        assert_eq!(r.next_u64(), 8095878257575067585);
        assert_eq!(r.next_u64(), 15838336090824644132);
    }

    /// Normals drawn in two halves, the second from a guess of where it starts in
    /// the stream, are those of one `fill_normal` over both, with its final state —
    /// wherever the guess starts (before the true start, on it, inside a normal of
    /// several draws, after it) and however many it draws (too few included), on
    /// rows of any lengths.
    #[test]
    fn normals_drawn_from_a_guess_are_the_serial_ones() {
        // `buf` cut into rows of these lengths.
        fn cut<'a>(mut buf: &'a mut [f64], lens: &[usize]) -> Vec<&'a mut [f64]> {
            let mut rows = Vec::new();
            for &len in lens {
                let (row, rest) = std::mem::take(&mut buf).split_at_mut(len);
                rows.push(row);
                buf = rest;
            }
            rows
        }
        let lens_of = |shape: usize| -> Vec<usize> {
            match shape {
                0 => vec![512; 8],
                1 => vec![300, 1, 0, 517, 64, 3, 999],
                _ => vec![4096, 4096],
            }
        };
        let mut paths = [false; 4];
        for seed in [1, 7, 42] {
            for shape in 0..3 {
                let lens = lens_of(shape);
                let total: usize = lens.iter().sum();
                let h: usize = lens[..lens.len() / 2].iter().sum();
                let t = total - h;
                let mut serial = Rng::new(seed);
                serial.next_u32(); // a cached half-word, which normals leave alone
                let mut want = vec![0.0; total];
                let start = serial.clone();
                serial.fill_normal(&mut want, -0.07, 0.005);
                // Where the second half truly starts, in draws from `start`.
                let mut head = start.clone();
                let mut extra = 0;
                head.fill_normal_noting(&mut vec![0.0; h], 0.0, 1.0, |_, d| extra += d - 1);
                let true_start = (h + extra as usize) as i64;
                for ahead in (h as i64 - 3).max(0)..=true_start + 40 {
                    let ahead = ahead as u64;
                    for room in [t + h / 32 + 64, t / 2, t + 1, 3] {
                        let mut rng = start.clone();
                        let mut buf = vec![0.0; total];
                        let mut rows = cut(&mut buf, &lens);
                        let [gap, guessed, after] = rng.fill_normal_guessing(
                            &mut rows,
                            &mut vec![0.0; room],
                            -0.07,
                            0.005,
                            ahead,
                        );
                        assert_eq!(gap + guessed + after, t);
                        let case =
                            format!("seed {seed}, rows {lens:?}, ahead {ahead}, room {room}");
                        assert!(buf == want, "{case}");
                        assert_eq!(rng.pcg64_state(), serial.pcg64_state(), "{case}");
                        paths[0] |= gap > 0 && guessed > 0;
                        paths[1] |= guessed > 0 && after == 0 && guessed < room;
                        paths[2] |= guessed > 0 && after > 0;
                        paths[3] |= guessed == 0 && after > 0;
                    }
                }
                // The public entry: the guess `h` on, room to spare, or none (serial).
                for room in [t + h / 32 + 64, t] {
                    let mut rng = start.clone();
                    let mut buf = vec![0.0; total];
                    rng.fill_normal_rows(
                        &mut cut(&mut buf, &lens),
                        &mut vec![0.0; room],
                        -0.07,
                        0.005,
                    );
                    assert!(buf == want);
                    assert_eq!(rng.pcg64_state(), serial.pcg64_state());
                }
            }
        }
        // Drawn on past the first half and then from the guess; from the guess with
        // normals of it left over; all it drew and more after it; none of it.
        assert_eq!(paths, [true; 4]);
        // The first half ending inside a guessed normal of several draws: a guess one
        // draw before the true start whose first normal takes two draws or more (about
        // one seed in a hundred).
        let (h, t) = (1000, 1000);
        let found = (0..10_000).find_map(|seed| {
            let start = Rng::new(seed);
            let mut head = start.clone();
            let mut extra = 0;
            head.fill_normal_noting(&mut vec![0.0; h], 0.0, 1.0, |_, d| extra += d - 1);
            let ahead = h as u64 + extra - 1;
            let mut guess = start.clone();
            guess.skip(ahead);
            let mut first = 1;
            guess.fill_normal_noting(&mut [0.0], 0.0, 1.0, |_, d| first = d);
            (first >= 2).then_some((start, ahead))
        });
        let (start, ahead) = found.expect("a seed whose guess starts inside a normal");
        let mut want = vec![0.0; h + t];
        let mut serial = start.clone();
        serial.fill_normal(&mut want, 0.0, 1.0);
        let mut got = vec![0.0; h + t];
        let (a, b) = got.split_at_mut(h);
        let mut rng = start.clone();
        let [gap, guessed, _] =
            rng.fill_normal_guessing(&mut [a, b], &mut vec![0.0; t + 64], 0.0, 1.0, ahead);
        assert!(got == want);
        assert_eq!(rng.pcg64_state(), serial.pcg64_state());
        assert!(gap >= 1 && guessed > 0, "{gap} {guessed}");
    }

    /// Skipping k draws lands where k draws do, and a skipped stretch of uniforms drawn
    /// in two pieces side by side is the stretch drawn in one.
    #[test]
    fn skip_lands_where_draws_do() {
        for k in [0u64, 1, 2, 3, 4, 5, 63, 64, 1000, 65_537] {
            let mut drawn = Rng::new(9);
            let mut skipped = drawn.clone();
            assert_eq!(drawn.next_u32(), skipped.next_u32());
            for _ in 0..k {
                drawn.next_u64();
            }
            skipped.skip(k);
            assert_eq!(skipped.pcg64_state(), drawn.pcg64_state(), "k = {k}");
        }
        let mut whole = vec![0.0; 300];
        let mut one = Rng::new(3);
        one.fill_uniform(&mut whole, 0.0, 0.1);
        let (mut head, mut tail) = (vec![0.0; 123], vec![0.0; 177]);
        let mut first = Rng::new(3);
        let mut second = first.clone();
        second.skip(123);
        first.fill_uniform(&mut head, 0.0, 0.1);
        second.fill_uniform(&mut tail, 0.0, 0.1);
        assert_eq!([head, tail].concat(), whole);
        assert_eq!(second.pcg64_state(), one.pcg64_state());
    }

    /// Array draws are the scalar draws, value for value, and leave the same state
    /// (checked through the next draws, including the cached 32-bit half).
    #[test]
    fn bulk_draws_equal_scalar_draws() {
        for (seed, len) in [
            (1u64, 0usize),
            (2, 1),
            (3, 2),
            (4, 63),
            (5, 64),
            (6, 65),
            (7, 20_000),
        ] {
            let mut bulk = Rng::new(seed);
            let mut one = Rng::new(seed);
            // Leave a cached 32-bit half behind: 64-bit draws must not touch it.
            assert_eq!(bulk.next_u32(), one.next_u32());
            let mut z = vec![0.0; len];
            bulk.fill_normal(&mut z, -0.07, 0.005);
            let want: Vec<f64> = (0..len).map(|_| one.normal(-0.07, 0.005)).collect();
            assert_eq!(z, want, "normal, len {len}");
            bulk.fill_uniform(&mut z, 0.0, 0.1);
            let want: Vec<f64> = (0..len).map(|_| one.uniform(0.0, 0.1)).collect();
            assert_eq!(z, want, "uniform, len {len}");
            assert_eq!(bulk.next_u32(), one.next_u32());
            assert_eq!(bulk.next_u64(), one.next_u64());
        }
    }

    #[test]
    fn seed_sequence_golden() {
        let s = SeedSequence::new(42).generate_state_u64::<4>();
        assert_eq!(
            s,
            [
                0x9f1e2e6dcd540ab7,
                0xd57873dc79fb94b6,
                0x7d282a1b64d420b7,
                0x336579714692d5ff
            ]
        );
    }

    #[test]
    fn random_golden() {
        let mut r = Rng::new(42);
        assert_eq!(r.random(), 0.7739560485559633);
        assert_eq!(r.random(), 0.4388784397520523);
        assert_eq!(r.random(), 0.8585979199113825);
    }

    #[test]
    fn standard_normal_golden() {
        let mut r = Rng::new(42);
        assert_eq!(r.standard_normal(), 0.30471707975443135);
        assert_eq!(r.standard_normal(), -1.0399841062404955);
        assert_eq!(r.standard_normal(), 0.7504511958064572);
    }

    #[test]
    fn integers_golden() {
        let mut r = Rng::new(42);
        let v: Vec<u64> = (0..4).map(|_| r.integers(64)).collect();
        assert_eq!(v, vec![5, 49, 41, 28]);
    }

    #[test]
    fn pcg64_state_round_trips_mid_stream() {
        let mut a = Rng::new(2024);
        for _ in 0..5 {
            a.next_u64();
        }
        assert!(!a.pcg64_state().has_uint32);
        a.next_u32();
        let s = a.pcg64_state();
        assert!(s.has_uint32);
        assert_eq!(s.inc & 1, 1);
        let mut b = Rng::from_pcg64_state(s);
        for _ in 0..3 {
            assert_eq!(a.next_u32(), b.next_u32());
            assert_eq!(a.standard_normal(), b.standard_normal());
        }
        assert_eq!(a.pcg64_state(), b.pcg64_state());
        // The handed-out half stays in the state, as in NumPy's.
        if !a.pcg64_state().has_uint32 {
            a.next_u32(); // a fresh 64-bit draw: its high half is now cached
        }
        assert!(a.pcg64_state().has_uint32);
        let v = a.next_u32();
        let after = a.pcg64_state();
        assert_eq!((after.has_uint32, after.uinteger), (false, v));
    }

    #[test]
    fn u32_cache_survives_u64_draws() {
        // NumPy keeps the cached half across 64-bit draws.
        let mut a = Rng::new(7);
        let first = a.next_u32();
        let _ = a.next_u64();
        let second = a.next_u32();
        let mut b = Rng::new(7);
        let full = b.next_u64();
        assert_eq!(first, full as u32);
        assert_eq!(second, (full >> 32) as u32);
    }
}
