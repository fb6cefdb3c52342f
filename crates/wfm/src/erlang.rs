//! Erlang B, Erlang C and Erlang A (M/M/n+M) for one interval.
//!
//! Notation: `a` is the offered load in Erlangs (arrival rate × mean handle
//! time), `n` the number of agents, times in seconds.

/// Erlang B: the probability that all `n` servers are busy with offered
/// load `a` (the blocking probability of M/M/n/n), by the recursion
/// `B(0) = 1`, `B(k) = a·B(k−1) / (k + a·B(k−1))`.
pub fn erlang_b(a: f64, n: u64) -> f64 {
    let mut b = 1.0;
    for k in 1..=n {
        let ab = a * b;
        b = ab / (k as f64 + ab);
    }
    b
}

/// Erlang C from Erlang B with the same `a` and `n`: the probability that
/// an arrival waits. 1 when `n ≤ a` (the queue grows without bound).
pub fn c_from_b(a: f64, n: u64, b: f64) -> f64 {
    let n = n as f64;
    if n <= a {
        return 1.0;
    }
    let c = n * b / (n - a * (1.0 - b));
    c.clamp(0.0, 1.0)
}

/// An M/M/n queue with infinite patience (Erlang C).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    /// Offered load in Erlangs.
    pub a: f64,
    /// Mean handle time, seconds.
    pub aht: f64,
    pub n: u64,
    /// Probability of waiting.
    pub p_wait: f64,
}

impl ErlangC {
    pub fn new(a: f64, aht: f64, n: u64) -> Self {
        let p_wait = if a <= 0.0 {
            0.0
        } else {
            c_from_b(a, n, erlang_b(a, n))
        };
        ErlangC { a, aht, n, p_wait }
    }

    /// From an Erlang B value already known for these `a` and `n` (used
    /// when stepping `n` up one at a time).
    pub fn from_b(a: f64, aht: f64, n: u64, b: f64) -> Self {
        let p_wait = if a <= 0.0 { 0.0 } else { c_from_b(a, n, b) };
        ErlangC { a, aht, n, p_wait }
    }

    fn stable(&self) -> bool {
        (self.n as f64) > self.a
    }

    /// The share answered within `t` seconds: `1 − C·e^{−(n−a)·t/aht}`.
    pub fn service_level(&self, t: f64) -> f64 {
        if self.a <= 0.0 {
            return 1.0;
        }
        if !self.stable() {
            return 0.0;
        }
        let n = self.n as f64;
        (1.0 - self.p_wait * (-(n - self.a) * t / self.aht).exp()).clamp(0.0, 1.0)
    }

    /// Average speed of answer: `C·aht / (n − a)` seconds.
    pub fn asa(&self) -> f64 {
        if self.a <= 0.0 {
            return 0.0;
        }
        if !self.stable() {
            return f64::INFINITY;
        }
        self.p_wait * self.aht / (self.n as f64 - self.a)
    }

    /// Agents' busy share: `a / n` (at most 1).
    pub fn occupancy(&self) -> f64 {
        if self.n == 0 {
            return if self.a > 0.0 { 1.0 } else { 0.0 };
        }
        (self.a / self.n as f64).min(1.0)
    }
}

/// `ln Σ_{k≥0} z^k / ((x+1)(x+2)…(x+k))`, the series behind Erlang A's
/// incomplete-gamma terms (`x·e^z·z^{−x}·γ(x, z)`), summed in log space so
/// that neither huge nor tiny terms overflow.
fn ln_series(x: f64, z: f64) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    // Terms rise while z > x + k and fall after; sum the logs with a
    // running maximum (log-sum-exp) until they no longer matter.
    let mut ln_term = 0.0f64;
    let mut max = 0.0f64;
    let mut acc = 1.0f64; // Σ exp(ln_term − max)
    let mut k = 0.0f64;
    loop {
        k += 1.0;
        ln_term += z.ln() - (x + k).ln();
        if ln_term > max {
            acc = acc * (max - ln_term).exp() + 1.0;
            max = ln_term;
        } else {
            acc += (ln_term - max).exp();
        }
        // Past the peak, the rest is bounded by a geometric tail.
        if x + k > z && ln_term - max < -40.0 {
            break;
        }
        if k > 1e8 {
            break;
        }
    }
    max + acc.ln()
}

/// An M/M/n+M queue (Erlang A, Palm's model as analysed by Garnett,
/// Mandelbaum and Reiman): callers abandon after an exponentially
/// distributed patience with mean `patience` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangA {
    pub a: f64,
    pub aht: f64,
    pub patience: f64,
    pub n: u64,
    /// Probability of waiting at all.
    pub p_wait: f64,
    /// Probability of abandoning.
    pub p_abandon: f64,
    x: f64,
    y: f64,
    ln_s: f64,
}

impl ErlangA {
    /// `b` is Erlang B for `a` and `n`.
    pub fn from_b(a: f64, aht: f64, patience: f64, n: u64, b: f64) -> Self {
        let empty = ErlangA {
            a,
            aht,
            patience,
            n,
            p_wait: 0.0,
            p_abandon: 0.0,
            x: 0.0,
            y: 0.0,
            ln_s: 0.0,
        };
        if a <= 0.0 {
            return empty;
        }
        // Rates per second: service μ = 1/aht, abandonment θ = 1/patience,
        // arrivals λ = a·μ. x = nμ/θ, y = λ/θ.
        let x = n as f64 * patience / aht;
        let y = a * patience / aht;
        let ln_s = ln_series(x, y);
        // P(W>0) = S·B / (1 + (S − 1)·B), in a form that keeps S large.
        let p_wait = if b <= 0.0 {
            0.0
        } else {
            let inv_s = (-ln_s).exp();
            (b / (inv_s + (1.0 - inv_s) * b)).clamp(0.0, 1.0)
        };
        // P(Ab | W>0) = 1/(ρS) + 1 − 1/ρ with ρ = a/n.
        let p_ab_given_wait = if n == 0 {
            1.0
        } else {
            let rho = a / n as f64;
            ((-ln_s).exp() / rho + 1.0 - 1.0 / rho).clamp(0.0, 1.0)
        };
        ErlangA {
            p_wait,
            p_abandon: p_wait * p_ab_given_wait,
            x,
            y,
            ln_s,
            ..empty
        }
    }

    pub fn new(a: f64, aht: f64, patience: f64, n: u64) -> Self {
        Self::from_b(a, aht, patience, n, erlang_b(a, n))
    }

    /// The share of arrivals whose offered wait is at most `t` seconds
    /// (answered within `t`, unless they gave up before): `1 − P(W>0)·
    /// γ(x, y·e^{−θt}) / γ(x, y)`.
    pub fn service_level(&self, t: f64) -> f64 {
        if self.a <= 0.0 || self.p_wait <= 0.0 {
            return 1.0;
        }
        let theta = 1.0 / self.patience;
        let z = self.y * (-theta * t).exp();
        // γ(x, z) = z^x e^{−z} S(x, z) / x, so the ratio's logarithm is
        // x·ln(z/y) − (z − y) + ln S(x, z) − ln S(x, y).
        let ln_ratio = -theta * t * self.x + (self.y - z) + ln_series(self.x, z) - self.ln_s;
        (1.0 - self.p_wait * ln_ratio.exp().min(1.0)).clamp(0.0, 1.0)
    }

    /// Mean wait over all arrivals, answered or not: `P(Ab)·patience`
    /// (abandonment at rate θ from the queue means λ·P(Ab) = θ·E[queue]).
    pub fn asa(&self) -> f64 {
        self.p_abandon * self.patience
    }

    /// Agents' busy share: answered load over agents.
    pub fn occupancy(&self) -> f64 {
        if self.n == 0 {
            return if self.a > 0.0 { 1.0 } else { 0.0 };
        }
        (self.a * (1.0 - self.p_abandon) / self.n as f64).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_exact_small_values() {
        // C(n=3, a=2) = 4/9; C(n=1, a=0.5) = 0.5 (M/M/1: ρ).
        assert!((ErlangC::new(2.0, 1.0, 3).p_wait - 4.0 / 9.0).abs() < 1e-12);
        assert!((ErlangC::new(0.5, 1.0, 1).p_wait - 0.5).abs() < 1e-12);
        assert_eq!(ErlangC::new(5.0, 1.0, 5).p_wait, 1.0);
    }

    #[test]
    fn series_is_one_plus_z_over_x_plus_one_for_small_z() {
        let s = ln_series(10.0, 1e-6).exp();
        assert!((s - (1.0 + 1e-6 / 11.0)).abs() < 1e-12);
        // Large arguments stay finite.
        assert!(ln_series(50_000.0, 120_000.0).is_finite());
    }
}
