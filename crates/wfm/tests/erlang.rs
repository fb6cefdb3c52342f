//! Erlang C and A against closed forms, an independent summation, the
//! Halfin–Whitt limit at 10,000+ agents, a birth–death solution, and a
//! simulation; staffing against hand-worked intervals and bad input.

use rand_core::Rng;
use rand_pcg::Pcg64;
use sb_wfm::erlang::erlang_b;
use sb_wfm::{ErlangA, ErlangC, Model, StaffingError, Target, staff};

/// Erlang C by the textbook sum, terms built one from the last (fine for
/// the small sizes it is used at).
fn erlang_c_by_sum(a: f64, n: u64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..n {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    let top = term * n as f64 / (n as f64 - a);
    top / (sum + top)
}

#[test]
fn erlang_c_matches_closed_forms_and_the_textbook_sum() {
    for rho in [0.1, 0.5, 0.9, 0.99] {
        // M/M/1: C = ρ. M/M/2: C = 2ρ²/(1+ρ).
        assert!((ErlangC::new(rho, 1.0, 1).p_wait - rho).abs() < 1e-12);
        let two = 2.0 * rho * rho / (1.0 + rho);
        assert!((ErlangC::new(2.0 * rho, 1.0, 2).p_wait - two).abs() < 1e-12);
    }
    for n in [1u64, 3, 10, 40, 100, 150] {
        for load in [0.3, 0.7, 0.95] {
            let a = n as f64 * load;
            let got = ErlangC::new(a, 1.0, n).p_wait;
            let want = erlang_c_by_sum(a, n);
            assert!(
                (got - want).abs() <= 1e-10 * want.max(1e-300),
                "n={n} a={a}: {got} vs {want}"
            );
        }
    }
}

fn normal_pdf(x: f64) -> f64 {
    (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Φ by the Abramowitz–Stegun 26.2.17 approximation (error < 7.5e−8).
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.231_641_9 * x.abs());
    let poly = t
        * (0.319_381_530
            + t * (-0.356_563_782
                + t * (1.781_477_937 + t * (-1.821_255_978 + t * 1.330_274_429))));
    let upper = normal_pdf(x) * poly;
    if x >= 0.0 { 1.0 - upper } else { upper }
}

#[test]
fn erlang_c_at_ten_thousand_agents_and_a_hundred_thousand_erlangs_meets_halfin_whitt() {
    // With a = n − β√n, C → 1 / (1 + β·Φ(β)/φ(β)) as n grows.
    for (n, beta) in [
        (10_000u64, 1.0f64),
        (10_000, 0.5),
        (100_317, 1.0),
        (250_000, 2.0),
    ] {
        let a = n as f64 - beta * (n as f64).sqrt();
        let got = ErlangC::new(a, 300.0, n).p_wait;
        let want = 1.0 / (1.0 + beta * normal_cdf(beta) / normal_pdf(beta));
        assert!(
            (got - want).abs() < 0.005,
            "n={n} β={beta}: {got} vs {want}"
        );
        assert!(got.is_finite() && got > 0.0 && got < 1.0);
    }
    // 100,000 Erlangs: the staffing search finishes and is consistent.
    let r = staff(
        100_000.0 * 1800.0 / 300.0,
        300.0,
        1800.0,
        Model::ErlangC,
        &sl80_20(),
    )
    .unwrap();
    assert!((r.erlangs - 100_000.0).abs() < 1e-6);
    assert!(r.agents > 100_000 && r.agents < 100_400, "{}", r.agents);
    let below = ErlangC::new(r.erlangs, 300.0, r.agents - 1);
    assert!(below.service_level(20.0) < 0.8 && r.service_level >= 0.8);
}

/// Erlang A by the birth–death chain: states k = 0…K, birth λ, death
/// min(k, n)μ + max(0, k − n)θ; P(W>0) and P(Ab) = θ·E[queue]/λ.
fn erlang_a_by_chain(a: f64, aht: f64, patience: f64, n: u64) -> (f64, f64) {
    let (mu, theta) = (1.0 / aht, 1.0 / patience);
    let lambda = a * mu;
    let mut p = vec![1.0f64];
    let mut k = 0u64;
    loop {
        let death = (k + 1).min(n) as f64 * mu + (k + 1).saturating_sub(n) as f64 * theta;
        let next = p[k as usize] * lambda / death;
        p.push(next);
        k += 1;
        if k > n + 10 && next < 1e-300 {
            break;
        }
        // Keep the numbers in range: rescale when they grow.
        if next > 1e250 {
            for v in &mut p {
                *v /= 1e250;
            }
        }
    }
    let total: f64 = p.iter().sum();
    let wait: f64 = p.iter().skip(n as usize).sum::<f64>() / total;
    let queue: f64 = p
        .iter()
        .enumerate()
        .skip(n as usize)
        .map(|(k, v)| (k as u64 - n) as f64 * v)
        .sum::<f64>()
        / total;
    (wait, theta * queue / lambda)
}

#[test]
fn erlang_a_matches_the_birth_death_chain() {
    for (a, n, patience) in [
        (9.0, 10u64, 120.0),
        (20.0, 18, 60.0),
        (5.0, 3, 30.0),
        (50.0, 55, 600.0),
        (2.0, 1, 10.0),
    ] {
        let e = ErlangA::new(a, 180.0, patience, n);
        let (wait, abandon) = erlang_a_by_chain(a, 180.0, patience, n);
        assert!(
            (e.p_wait - wait).abs() < 1e-9,
            "a={a} n={n}: P(W>0) {} vs {wait}",
            e.p_wait
        );
        assert!(
            (e.p_abandon - abandon).abs() < 1e-9,
            "a={a} n={n}: P(Ab) {} vs {abandon}",
            e.p_abandon
        );
    }
}

#[test]
fn erlang_a_with_endless_patience_is_erlang_c() {
    let (a, n) = (10.0, 13u64);
    let c = ErlangC::new(a, 180.0, n);
    let e = ErlangA::new(a, 180.0, 1e9, n);
    assert!(
        (c.p_wait - e.p_wait).abs() < 1e-5,
        "{} vs {}",
        c.p_wait,
        e.p_wait
    );
    assert!((c.service_level(20.0) - e.service_level(20.0)).abs() < 1e-5);
    assert!(e.p_abandon < 1e-5);
}

/// Simulates M/M/n+M served first come, first served, and measures the
/// share of arrivals whose offered wait (until an agent would take them)
/// is at most `t`. In that order an arrival's offered wait depends only on
/// those before it: it starts when the first agent frees, if it is still
/// there; if not, it takes no agent's time.
fn simulated_service_level(
    a: f64,
    aht: f64,
    patience: f64,
    n: usize,
    t: f64,
    arrivals: usize,
) -> f64 {
    let mut rng = Pcg64::new(0xcafe_f00d_d15e_a5e5, 0x0a02_bdbf_7bb3_c0a7);
    let mut exp = |mean: f64| -> f64 {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        -mean * (1.0 - u).ln()
    };
    let lambda = a / aht;
    let mut free_at = vec![0.0f64; n];
    let (mut clock, mut within) = (0.0, 0usize);
    for _ in 0..arrivals {
        clock += exp(1.0 / lambda);
        let gives_up_after = exp(patience);
        let (i, &free) = free_at
            .iter()
            .enumerate()
            .min_by(|x, y| x.1.total_cmp(y.1))
            .unwrap();
        let wait = (free - clock).max(0.0);
        if wait <= t {
            within += 1;
        }
        if wait <= gives_up_after {
            free_at[i] = clock + wait + exp(aht);
        }
    }
    within as f64 / arrivals as f64
}

#[test]
fn erlang_a_service_level_matches_a_simulation() {
    for (a, n, patience) in [(9.0, 10usize, 120.0), (12.0, 11, 60.0)] {
        let model = ErlangA::new(a, 180.0, patience, n as u64).service_level(20.0);
        let sim = simulated_service_level(a, 180.0, patience, n, 20.0, 400_000);
        assert!(
            (model - sim).abs() < 0.01,
            "a={a} n={n}: model {model} vs simulation {sim}"
        );
    }
}

fn sl80_20() -> Target {
    Target {
        service_level: Some((0.8, 20.0)),
        ..Default::default()
    }
}

#[test]
fn a_hundred_calls_in_half_an_hour_need_fourteen_agents() {
    // 100 calls × 180 s over 1,800 s = 10 Erlangs.
    let r = staff(100.0, 180.0, 1800.0, Model::ErlangC, &sl80_20()).unwrap();
    assert_eq!((r.erlangs, r.agents), (10.0, 14));
    assert!(ErlangC::new(10.0, 180.0, 13).service_level(20.0) < 0.8);
    assert!((r.service_level - ErlangC::new(10.0, 180.0, 14).service_level(20.0)).abs() < 1e-12);
    assert!((r.occupancy - 10.0 / 14.0).abs() < 1e-12);
    // 30 % shrinkage: 14 / 0.7 = 20 positions exactly.
    let shrunk = staff(
        100.0,
        180.0,
        1800.0,
        Model::ErlangC,
        &Target {
            shrinkage: 0.3,
            ..sl80_20()
        },
    )
    .unwrap();
    assert_eq!((shrunk.agents, shrunk.positions), (14, 20));
    // An ASA target and a maximum occupancy each only ever add agents.
    let asa = staff(
        100.0,
        180.0,
        1800.0,
        Model::ErlangC,
        &Target {
            asa: Some(5.0),
            ..sl80_20()
        },
    )
    .unwrap();
    assert!(asa.agents >= 14 && asa.asa <= 5.0);
    let occ = staff(
        100.0,
        180.0,
        1800.0,
        Model::ErlangC,
        &Target {
            max_occupancy: Some(0.6),
            ..sl80_20()
        },
    )
    .unwrap();
    assert_eq!(occ.agents, 17); // 10 / 0.6 = 16.7
    // Nobody calling needs nobody.
    let none = staff(0.0, 0.0, 1800.0, Model::ErlangC, &sl80_20()).unwrap();
    assert_eq!((none.agents, none.positions), (0, 0));
}

#[test]
fn erlang_a_needs_no_more_agents_than_erlang_c_and_counts_rise_with_volume() {
    let mut last = 0;
    for calls in [10.0, 50.0, 100.0, 400.0, 2_000.0] {
        let c = staff(calls, 240.0, 1800.0, Model::ErlangC, &sl80_20()).unwrap();
        let a = staff(
            calls,
            240.0,
            1800.0,
            Model::ErlangA { patience: 90.0 },
            &sl80_20(),
        )
        .unwrap();
        assert!(
            a.agents <= c.agents,
            "{calls}: A {} > C {}",
            a.agents,
            c.agents
        );
        assert!(a.service_level >= 0.8 && a.abandon > 0.0 && a.abandon < 1.0);
        if a.agents > 0 {
            let fewer = ErlangA::new(a.erlangs, 240.0, 90.0, a.agents - 1).service_level(20.0);
            assert!(fewer < 0.8, "{calls}: one fewer still meets it");
        }
        assert!(c.agents >= last);
        last = c.agents;
    }
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let t = sl80_20();
    let cases = [
        (
            staff(-1.0, 180.0, 1800.0, Model::ErlangC, &t),
            StaffingError::Contacts(-1.0),
        ),
        (
            staff(10.0, 0.0, 1800.0, Model::ErlangC, &t),
            StaffingError::Aht(0.0),
        ),
        (
            staff(10.0, 180.0, 0.0, Model::ErlangC, &t),
            StaffingError::Interval(0.0),
        ),
        (
            staff(
                10.0,
                180.0,
                1800.0,
                Model::ErlangC,
                &Target {
                    service_level: Some((1.2, 20.0)),
                    ..t
                },
            ),
            StaffingError::ServiceLevel(120.0),
        ),
        (
            staff(
                10.0,
                180.0,
                1800.0,
                Model::ErlangC,
                &Target {
                    shrinkage: 1.0,
                    ..t
                },
            ),
            StaffingError::Shrinkage(100.0),
        ),
        (
            staff(10.0, 180.0, 1800.0, Model::ErlangA { patience: 0.0 }, &t),
            StaffingError::Patience(0.0),
        ),
        (
            staff(10.0, 180.0, 1800.0, Model::ErlangC, &Target::default()),
            StaffingError::NoTarget,
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, Err(want.clone()), "{want}");
    }
    assert!(staff(f64::NAN, 180.0, 1800.0, Model::ErlangC, &t).is_err());
    assert_eq!(erlang_b(0.0, 5), 0.0);
}
