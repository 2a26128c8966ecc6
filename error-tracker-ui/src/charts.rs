//! The inline SVG charts: numbers in, coordinates out. The templates draw
//! them, so no markup is built from strings here.

use serde::Serialize;

use error_tracker::Timestamp;

/// A sparkline: the points of a polyline in a `width`×`height` box.
#[derive(Debug, Serialize)]
pub(crate) struct Sparkline {
    pub width: u32,
    pub height: u32,
    pub points: String,
    pub total: u64,
    pub max: u64,
}

pub(crate) fn sparkline(counts: &[u64], width: u32, height: u32) -> Sparkline {
    let max = counts.iter().copied().max().unwrap_or(0);
    let n = counts.len().max(2) - 1;
    let mut points = String::with_capacity(counts.len() * 10);
    for (i, &c) in counts.iter().enumerate() {
        let x = i as f64 * f64::from(width) / n as f64;
        // Keep a pixel free at the top and bottom so the stroke is not clipped.
        let y = f64::from(height) - 1.0 - if max == 0 { 0.0 } else { c as f64 / max as f64 * f64::from(height - 2) };
        if i > 0 {
            points.push(' ');
        }
        points.push_str(&format!("{x:.1},{y:.1}"));
    }
    Sparkline { width, height, points, total: counts.iter().sum(), max }
}

/// A bar chart of counts per hour.
#[derive(Debug, Serialize)]
pub(crate) struct BarChart {
    pub width: u32,
    pub height: u32,
    pub bars: Vec<Bar>,
    pub total: u64,
    pub max: u64,
    pub from: String,
    pub to: String,
}

/// One non-empty hour.
#[derive(Debug, Serialize)]
pub(crate) struct Bar {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub label: String,
}

const BAR_STEP: u32 = 4;

/// `counts[i]` is the count of the hour starting `first_hour + i` (Unix hours).
pub(crate) fn hourly_bars(counts: &[u64], first_hour: i64, height: u32) -> BarChart {
    let max = counts.iter().copied().max().unwrap_or(0);
    let hour_text = |h: i64| {
        let t = Timestamp::from_micros(h * 3600 * 1_000_000).to_string();
        format!("{} {} UTC", &t[..10], &t[11..16])
    };
    let bars = counts
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(i, &c)| {
            let h = ((c as f64 / max as f64) * f64::from(height - 1)).round().max(1.0) as u32;
            Bar {
                x: i as u32 * BAR_STEP,
                y: height - h,
                w: BAR_STEP - 1,
                h,
                label: format!("{}: {c}", hour_text(first_hour + i as i64)),
            }
        })
        .collect();
    BarChart {
        width: counts.len() as u32 * BAR_STEP,
        height,
        bars,
        total: counts.iter().sum(),
        max,
        from: hour_text(first_hour),
        to: hour_text(first_hour + counts.len() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_to_the_box() {
        let s = sparkline(&[0, 2, 1], 100, 20);
        assert_eq!(s.points, "0.0,19.0 50.0,1.0 100.0,10.0");
        assert_eq!((s.total, s.max), (3, 2));
        let flat = sparkline(&[0, 0], 10, 10);
        assert_eq!(flat.points, "0.0,9.0 10.0,9.0");
        let b = hourly_bars(&[0, 4, 2], 0, 41);
        assert_eq!(b.bars.len(), 2);
        assert_eq!((b.bars[0].x, b.bars[0].h, b.bars[0].y), (4, 40, 1));
        assert_eq!(b.bars[1].h, 20);
        assert_eq!(b.bars[0].label, "1970-01-01 01:00 UTC: 4");
    }
}
