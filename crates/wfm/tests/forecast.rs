//! Forecasts on synthetic centres whose truth is known: daily and weekly
//! shape, noise, a holiday; accuracy against the seasonal-naive baseline.

use rand_core::Rng;
use rand_pcg::Pcg64;
use sb_wfm::forecast::{
    ForecastError, forecast_aht, forecast_volumes, mape, mstl, seasonal_naive, wape,
};

const PER_DAY: usize = 48; // 30-minute intervals

/// The expected volume of interval `i` (from a Monday 00:00).
fn truth(i: usize) -> f64 {
    let day = (i / PER_DAY) % 7;
    let h = (i % PER_DAY) as f64 / 2.0;
    let shape = (-((h - 10.5) / 2.5).powi(2)).exp() * 60.0
        + (-((h - 15.0) / 3.0).powi(2)).exp() * 40.0
        + 2.0;
    let weekday = [1.0, 0.95, 0.9, 0.9, 0.85, 0.45, 0.3][day];
    shape * weekday
}

/// `weeks` of history: the truth with Poisson-like noise, seeded.
fn history(weeks: usize, seed: u64) -> Vec<f64> {
    let mut rng = Pcg64::new(seed as u128, 0x5851_f42d_4c95_7f2d);
    (0..weeks * 7 * PER_DAY)
        .map(|i| {
            let m = truth(i);
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            // Normal-ish noise with the variance of a Poisson count.
            let z = (u - 0.5) * 12f64.sqrt();
            (m + z * m.sqrt()).round().max(0.0)
        })
        .collect()
}

#[test]
fn seasonal_naive_repeats_the_last_season_and_errors_are_exact() {
    assert_eq!(
        seasonal_naive(&[1.0, 2.0, 3.0, 4.0], 2, 5),
        vec![3.0, 4.0, 3.0, 4.0, 3.0]
    );
    assert_eq!(
        wape(&[10.0, 0.0, 30.0], &[12.0, 1.0, 27.0]),
        Some(6.0 / 40.0)
    );
    assert_eq!(
        mape(&[10.0, 0.0, 30.0], &[12.0, 1.0, 27.0]),
        Some((0.2 + 0.1) / 2.0)
    );
    assert_eq!(wape(&[0.0], &[1.0]), None);
}

#[test]
fn the_model_beats_seasonal_naive_on_a_noisy_centre() {
    let h = history(8, 7);
    let f = forecast_volumes(&h, &[], &[], PER_DAY, 7 * PER_DAY).unwrap();
    let acc = f.accuracy;
    let (w, n) = (acc.wape.unwrap(), acc.naive_wape.unwrap());
    assert!(w < 0.22, "model WAPE {w} (naive {n})");
    assert!(w < n, "model WAPE {w} should beat seasonal-naive {n}");
    // The week ahead against the truth that made the history.
    let start = h.len();
    let want: Vec<f64> = (start..start + 7 * PER_DAY).map(truth).collect();
    let ahead = wape(&want, &f.values).unwrap();
    assert!(
        ahead < 0.12,
        "WAPE against the truth {ahead} (model {w}, naive {n})"
    );
    assert!(f.values.iter().all(|v| *v >= 0.0));
}

#[test]
fn holidays_are_cleaned_from_history_and_scaled_ahead() {
    let mut h = history(6, 11);
    let mut holiday = vec![false; h.len()];
    // A Wednesday in week 3 was a holiday: a third of the usual volume.
    let day = 2 * 7 + 2;
    for i in day * PER_DAY..(day + 1) * PER_DAY {
        h[i] = (h[i] / 3.0).round();
        holiday[i] = true;
    }
    let horizon = 7 * PER_DAY;
    // The coming Wednesday is a holiday too.
    let mut ahead = vec![false; horizon];
    for a in ahead.iter_mut().skip(2 * PER_DAY).take(PER_DAY) {
        *a = true;
    }
    let f = forecast_volumes(&h, &holiday, &ahead, PER_DAY, horizon).unwrap();
    let plain = forecast_volumes(&h, &holiday, &[], PER_DAY, horizon).unwrap();
    let sum = |v: &[f64], d: usize| v[d * PER_DAY..(d + 1) * PER_DAY].iter().sum::<f64>();
    let ratio = sum(&f.values, 2) / sum(&plain.values, 2);
    assert!((ratio - 1.0 / 3.0).abs() < 0.08, "holiday ratio {ratio}");
    // Other days are untouched by the holiday flag, and the cleaned
    // history keeps Wednesday near a normal Wednesday.
    assert_eq!(sum(&f.values, 1), sum(&plain.values, 1));
    let normal = (h.len()..h.len() + PER_DAY)
        .map(|i| truth(i + 2 * PER_DAY))
        .sum::<f64>();
    assert!((sum(&plain.values, 2) / normal - 1.0).abs() < 0.15);
}

#[test]
fn handle_time_follows_the_interval_of_the_week_weighted_by_volume() {
    let week = 7 * PER_DAY;
    let vols = vec![2.0; 2 * week];
    let mut aht = vec![200.0; 2 * week];
    aht[5] = 100.0; // one slot, first week only
    let f = forecast_aht(&vols, &aht, PER_DAY, week);
    assert_eq!(f[5], 150.0);
    assert_eq!(f[6], 200.0);
    // A slot that never had contacts takes the overall mean.
    let mut vols2 = vols.clone();
    vols2[7] = 0.0;
    vols2[week + 7] = 0.0;
    let f = forecast_aht(&vols2, &aht, PER_DAY, week);
    assert!((f[7] - 199.9).abs() < 0.2, "{}", f[7]);
}

#[test]
fn bad_history_is_refused() {
    assert_eq!(
        mstl(&[1.0; 100], PER_DAY, 10),
        Err(ForecastError::TooShort {
            need: 2 * 7 * PER_DAY,
            have: 100
        })
    );
    let mut h = history(2, 3);
    h[9] = -1.0;
    assert_eq!(
        mstl(&h, PER_DAY, 10),
        Err(ForecastError::Volume {
            index: 9,
            value: -1.0
        })
    );
    assert_eq!(mstl(&history(2, 3), 7, 10), Err(ForecastError::PerDay(7)));
}
