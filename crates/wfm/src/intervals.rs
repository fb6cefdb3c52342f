//! Reading intervals from CSV with the header
//! `interval_start,contacts,aht_seconds`: the shape planners' files, the
//! CLI and the planning API share. Text in, rows out; no IO.

/// One interval as read.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalRow {
    /// The CSV line it came from, for messages.
    pub line: u64,
    pub start_text: String,
    /// The local date and time, when given without an offset.
    pub local: Option<jiff::civil::DateTime>,
    /// Seconds on the rows' own time line: local wall-clock time read as
    /// if it were UTC, or the instant when an offset is given (so the
    /// repeated hour of a daylight-saving change can be told apart).
    pub start: i64,
    pub contacts_text: String,
    pub contacts: f64,
    pub aht_text: String,
    pub aht: f64,
}

/// What is wrong with the text, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ReadError {
    pub line: Option<u64>,
    pub message: String,
}

fn fail(line: Option<u64>, message: impl Into<String>) -> ReadError {
    ReadError {
        line,
        message: message.into(),
    }
}

fn number(field: &str, text: &str, line: u64) -> Result<f64, ReadError> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(fail(
            Some(line),
            format!("{field} must be a finite number, not {text:?}"),
        )),
        Err(_) => Err(fail(
            Some(line),
            format!("{field} must be a number, not {text:?}"),
        )),
    }
}

/// The rows of `text`, in file order. Every `interval_start` has an offset
/// or none does; numbers are finite (their ranges are the caller's).
pub fn read_intervals(text: &str) -> Result<Vec<IntervalRow>, ReadError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| fail(None, format!("reading the header: {e}")))?
        .clone();
    let want = ["interval_start", "contacts", "aht_seconds"];
    if headers.iter().collect::<Vec<_>>() != want {
        return Err(fail(
            None,
            format!(
                "the header must be {} (got {})",
                want.join(","),
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    let mut rows: Vec<IntervalRow> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| fail(None, format!("reading a row: {e}")))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.len() != 3 {
            return Err(fail(
                Some(line),
                format!("expected 3 fields, found {}", record.len()),
            ));
        }
        let start_text = record[0].to_owned();
        let iso = start_text.replace(' ', "T");
        let (start, local) = if let Ok(t) = iso.parse::<jiff::Timestamp>() {
            (t.as_second(), None)
        } else {
            let local = iso.parse::<jiff::civil::DateTime>().map_err(|_| {
                fail(
                    Some(line),
                    format!(
                        "interval_start must be a date and time like 2026-11-27T08:00 \
                         (local) or 2026-04-05T02:00+11:00, not {start_text:?}"
                    ),
                )
            })?;
            let as_utc = jiff::tz::TimeZone::UTC
                .to_timestamp(local)
                .map_err(|e| fail(Some(line), e.to_string()))?;
            (as_utc.as_second(), Some(local))
        };
        if let Some(first) = rows.first()
            && first.local.is_some() != local.is_some()
        {
            return Err(fail(
                Some(line),
                "give every interval_start with an offset, or none",
            ));
        }
        rows.push(IntervalRow {
            line,
            contacts: number("contacts", &record[1], line)?,
            contacts_text: record[1].to_owned(),
            aht: number("aht_seconds", &record[2], line)?,
            aht_text: record[2].to_owned(),
            start_text,
            local,
            start,
        });
    }
    if rows.is_empty() {
        return Err(fail(None, "the input has a header but no intervals"));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_text_and_local_times() {
        let rows =
            read_intervals("interval_start,contacts,aht_seconds\n2026-11-27 08:00,12,180.5\n")
                .unwrap();
        assert_eq!(rows[0].line, 2);
        assert_eq!(
            rows[0].local,
            Some(jiff::civil::date(2026, 11, 27).at(8, 0, 0, 0))
        );
        assert_eq!(
            (rows[0].contacts, rows[0].aht, rows[0].start_text.as_str()),
            (12.0, 180.5, "2026-11-27 08:00")
        );
        let e = read_intervals("interval_start,contacts,aht_seconds\n2026-11-27T08:00,x,1\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: contacts must be a number, not \"x\""
        );
        let mixed = "interval_start,contacts,aht_seconds\n2026-11-27T08:00,1,1\n2026-11-27T08:30+11:00,1,1\n";
        assert_eq!(read_intervals(mixed).unwrap_err().line, Some(3));
        assert!(
            read_intervals("when,calls\n")
                .unwrap_err()
                .to_string()
                .starts_with("the header must be")
        );
    }
}
