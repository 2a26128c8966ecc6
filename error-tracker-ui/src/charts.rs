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

/// A bar chart of counts per hour, with labelled axes: counts on the left
/// (0, half and the top of a rounded scale), days along the bottom.
#[derive(Debug, Serialize)]
pub(crate) struct BarChart {
    /// The whole drawing, axes included.
    pub width: u32,
    pub height: u32,
    /// Where the plot area starts (the room for the count labels).
    pub left: u32,
    pub top: u32,
    /// The plot area.
    pub plot_width: u32,
    pub plot_height: u32,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
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

/// An axis label at `at` (y for the count axis, x for the time axis), in plot coordinates.
#[derive(Debug, Serialize)]
pub(crate) struct Tick {
    pub at: u32,
    pub label: String,
}

const BAR_STEP: u32 = 4;
const LEFT: u32 = 44;
const TOP: u32 = 6;
const BOTTOM: u32 = 20;
/// Room for the last day's label past the plot.
const RIGHT: u32 = 40;

/// The smallest 1, 2 or 5 times a power of ten that is at least `max` (at least 1):
/// the top of the count axis, so its labels are round numbers.
pub(crate) fn nice_ceiling(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let n = step.saturating_mul(m);
            if n >= max || n == u64::MAX {
                return n;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// `950`, `1.5k`, `12k`, `3M`: short enough for the axis.
pub(crate) fn compact(n: u64) -> String {
    let (div, unit) = match n {
        0..1_000 => return n.to_string(),
        1_000..1_000_000 => (1_000.0, "k"),
        1_000_000..1_000_000_000 => (1_000_000.0, "M"),
        _ => (1_000_000_000.0, "G"),
    };
    let v = n as f64 / div;
    if v < 10.0 && (v * 10.0).round() % 10.0 != 0.0 { format!("{v:.1}{unit}") } else { format!("{v:.0}{unit}") }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `counts[i]` is the count of the hour starting `first_hour + i` (Unix hours).
pub(crate) fn hourly_bars(counts: &[u64], first_hour: i64, plot_height: u32) -> BarChart {
    let max = counts.iter().copied().max().unwrap_or(0);
    let scale = nice_ceiling(max);
    let time_text = |h: i64| Timestamp::from_micros(h * 3600 * 1_000_000).to_string();
    let hour_text = |h: i64| {
        let t = time_text(h);
        format!("{} {} UTC", &t[..10], &t[11..16])
    };
    let bars = counts
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(i, &c)| {
            let h = ((c as f64 / scale as f64) * f64::from(plot_height)).round().max(1.0) as u32;
            Bar {
                x: i as u32 * BAR_STEP,
                y: plot_height - h,
                w: BAR_STEP - 1,
                h,
                label: format!("{}: {c}", hour_text(first_hour + i as i64)),
            }
        })
        .collect();
    let mut y_ticks = vec![Tick { at: plot_height, label: "0".into() }];
    if scale >= 2 && scale.is_multiple_of(2) {
        y_ticks.push(Tick { at: plot_height / 2, label: compact(scale / 2) });
    }
    y_ticks.push(Tick { at: 0, label: compact(scale) });
    // A label at each midnight UTC, as "Dec 6".
    let x_ticks = (0..counts.len() as i64)
        .filter(|i| (first_hour + i).rem_euclid(24) == 0)
        .map(|i| {
            let t = time_text(first_hour + i);
            let month = t[5..7].parse::<usize>().unwrap_or(1).clamp(1, 12);
            Tick {
                at: i as u32 * BAR_STEP,
                label: format!("{} {}", MONTHS[month - 1], t[8..10].trim_start_matches('0')),
            }
        })
        .collect();
    let plot_width = counts.len() as u32 * BAR_STEP;
    BarChart {
        width: LEFT + plot_width + RIGHT,
        height: TOP + plot_height + BOTTOM,
        left: LEFT,
        top: TOP,
        plot_width,
        plot_height,
        bars,
        y_ticks,
        x_ticks,
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
        let b = hourly_bars(&[0, 4, 2], 0, 40);
        assert_eq!(b.bars.len(), 2);
        // The scale tops at 5: 4 is 32 of 40 pixels.
        assert_eq!((b.bars[0].x, b.bars[0].h, b.bars[0].y), (4, 32, 8));
        assert_eq!(b.bars[1].h, 16);
        assert_eq!(b.bars[0].label, "1970-01-01 01:00 UTC: 4");
        let labels = |b: &BarChart| b.y_ticks.iter().map(|t| t.label.clone()).collect::<Vec<_>>();
        assert_eq!(labels(&b), ["0", "5"]);
        assert_eq!(b.x_ticks.len(), 1);
        assert_eq!((b.x_ticks[0].at, b.x_ticks[0].label.as_str()), (0, "Jan 1"));
    }

    #[test]
    fn axes_read_for_one_occurrence_and_for_a_million() {
        let one = hourly_bars(&[0, 1, 0], 10, 40);
        assert_eq!(one.y_ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["0", "1"]);
        assert_eq!(one.bars[0].h, 40, "one occurrence fills the scale of 1");
        let many = hourly_bars(&[1, 1_000_000, 0], 10, 40);
        assert_eq!(many.y_ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["0", "500k", "1M"]);
        assert_eq!(many.bars[0].h, 1, "a small count stays visible");
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(u64::MAX), u64::MAX);
        assert_eq!(compact(950), "950");
        assert_eq!(compact(1_500), "1.5k");
        assert_eq!(compact(20_000), "20k");
        assert_eq!(compact(2_000_000), "2M");
    }
}
