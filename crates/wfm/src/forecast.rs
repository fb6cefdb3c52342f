//! Forecasting interval volumes and handle times from history, with daily
//! and weekly seasonality (MSTL decomposition with an AutoETS trend, from
//! the `augurs` crate) beside a seasonal-naive baseline (the same interval
//! last week), holiday effects, and accuracy on a held-back week.

use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::prelude::*;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    #[error("history needs at least {need} intervals (two weeks), it has {have}")]
    TooShort { need: usize, have: usize },
    #[error("intervals per day must divide a day into whole intervals (got {0})")]
    PerDay(usize),
    #[error("a volume must be a number of at least 0 (interval {index}: {value})")]
    Volume { index: usize, value: f64 },
    #[error("the forecasting model failed: {0}")]
    Model(String),
}

/// The seasonal-naive forecast: each interval as it was one season
/// earlier (`season` intervals back), repeated for `horizon` intervals.
pub fn seasonal_naive(history: &[f64], season: usize, horizon: usize) -> Vec<f64> {
    if history.is_empty() || season == 0 {
        return vec![0.0; horizon];
    }
    let season = season.min(history.len());
    let last = &history[history.len() - season..];
    (0..horizon).map(|t| last[t % season]).collect()
}

/// Weighted absolute percentage error: Σ|actual − forecast| / Σ actual.
/// `None` when nothing happened.
pub fn wape(actual: &[f64], forecast: &[f64]) -> Option<f64> {
    let total: f64 = actual.iter().map(|a| a.abs()).sum();
    (total > 0.0).then(|| {
        actual
            .iter()
            .zip(forecast)
            .map(|(a, f)| (a - f).abs())
            .sum::<f64>()
            / total
    })
}

/// Mean absolute percentage error over intervals with some volume.
pub fn mape(actual: &[f64], forecast: &[f64]) -> Option<f64> {
    let errs: Vec<f64> = actual
        .iter()
        .zip(forecast)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, f)| ((a - f) / a).abs())
        .collect();
    (!errs.is_empty()).then(|| errs.iter().sum::<f64>() / errs.len() as f64)
}

fn check(history: &[f64], per_day: usize) -> Result<usize, ForecastError> {
    if per_day == 0 || 1440 % per_day != 0 {
        return Err(ForecastError::PerDay(per_day));
    }
    if let Some((index, &value)) = history
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        return Err(ForecastError::Volume { index, value });
    }
    let week = per_day * 7;
    if history.len() < 2 * week {
        return Err(ForecastError::TooShort {
            need: 2 * week,
            have: history.len(),
        });
    }
    Ok(week)
}

/// MSTL (daily and weekly seasons) with an AutoETS trend; never below 0.
pub fn mstl(history: &[f64], per_day: usize, horizon: usize) -> Result<Vec<f64>, ForecastError> {
    let week = check(history, per_day)?;
    let model = MSTLModel::new(
        vec![per_day, week],
        AutoETS::non_seasonal().into_trend_model(),
    );
    let fit = model
        .fit(history)
        .map_err(|e| ForecastError::Model(e.to_string()))?;
    let out = fit
        .predict(horizon, None)
        .map_err(|e| ForecastError::Model(e.to_string()))?;
    Ok(out.point.into_iter().map(|v| v.max(0.0)).collect())
}

/// A forecast of volumes with what it is worth.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeForecast {
    pub values: Vec<f64>,
    /// Errors of the model and of the seasonal-naive baseline, forecasting
    /// the last week of history from the weeks before it.
    pub accuracy: Accuracy,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    pub wape: Option<f64>,
    pub mape: Option<f64>,
    pub naive_wape: Option<f64>,
    pub naive_mape: Option<f64>,
}

/// History with holidays taken out: each holiday interval replaced by the
/// same interval a week before (or after, at the start), so one odd day
/// does not bend the seasons. Returns the cleaned series and how holidays
/// compared with what they replaced (1 when history has none).
fn without_holidays(history: &[f64], holiday: &[bool], week: usize) -> (Vec<f64>, f64) {
    let mut clean = history.to_vec();
    let (mut seen, mut usual) = (0.0, 0.0);
    for i in 0..clean.len() {
        if holiday.get(i).copied().unwrap_or(false) {
            let j = if i >= week {
                i - week
            } else {
                (i + week).min(clean.len() - 1)
            };
            clean[i] = clean[j];
            seen += history[i];
            usual += clean[i];
        }
    }
    let factor = if usual > 0.0 { seen / usual } else { 1.0 };
    (clean, factor)
}

/// Forecasts `horizon` intervals after `history` (`per_day` intervals a
/// day). `holiday_history` and `holiday_ahead` mark holiday intervals:
/// history's are cleaned before fitting, and the ones ahead are scaled by
/// how past holidays compared with normal days.
pub fn forecast_volumes(
    history: &[f64],
    holiday_history: &[bool],
    holiday_ahead: &[bool],
    per_day: usize,
    horizon: usize,
) -> Result<VolumeForecast, ForecastError> {
    let week = check(history, per_day)?;
    let (clean, factor) = without_holidays(history, holiday_history, week);
    // Accuracy: the last week forecast from the weeks before it, when
    // there are at least two of them.
    let accuracy = if clean.len() >= 3 * week {
        let (train, test) = clean.split_at(clean.len() - week);
        let model = mstl(train, per_day, week)?;
        let naive = seasonal_naive(train, week, week);
        Accuracy {
            wape: wape(test, &model),
            mape: mape(test, &model),
            naive_wape: wape(test, &naive),
            naive_mape: mape(test, &naive),
        }
    } else {
        Accuracy {
            wape: None,
            mape: None,
            naive_wape: None,
            naive_mape: None,
        }
    };
    let mut values = mstl(&clean, per_day, horizon)?;
    for (v, h) in values.iter_mut().zip(holiday_ahead) {
        if *h {
            *v *= factor;
        }
    }
    Ok(VolumeForecast { values, accuracy })
}

/// Handle time per interval of the week ahead: for each interval of the
/// week, the volume-weighted mean of that interval in past weeks; where it
/// never had contacts, the overall mean.
pub fn forecast_aht(volumes: &[f64], aht: &[f64], per_day: usize, horizon: usize) -> Vec<f64> {
    let week = per_day * 7;
    let (mut all_w, mut all_t) = (0.0, 0.0);
    let mut slot = vec![(0.0f64, 0.0f64); week.max(1)];
    for (i, (v, a)) in volumes.iter().zip(aht).enumerate() {
        if *v > 0.0 && a.is_finite() && *a > 0.0 {
            slot[i % week.max(1)].0 += v;
            slot[i % week.max(1)].1 += v * a;
            all_w += v;
            all_t += v * a;
        }
    }
    let overall = if all_w > 0.0 { all_t / all_w } else { 0.0 };
    let start = volumes.len();
    (0..horizon)
        .map(|t| {
            let (w, s) = slot[(start + t) % week.max(1)];
            if w > 0.0 { s / w } else { overall }
        })
        .collect()
}
