//! Bar charts drawn on the server as SVG, shared by the console's pages (`/reports`, a
//! link's page): one or more series of values over slots (days, scores), each bar with a
//! title that says its value, and labels under some slots. The templates draw the
//! `Chart` this computes with one macro (`console/chart.html`); the CSS colours the bars by
//! their series' class.

use chrono::NaiveDate;

/// One bar of a chart: its series' class, where it is and what it says.
pub(crate) struct Bar {
    pub class: &'static str,
    pub x: String,
    pub y: String,
    pub height: String,
    pub title: String,
}

/// A bar chart in SVG units.
pub(crate) struct Chart {
    pub width: u32,
    pub height: u32,
    /// The plot's baseline (`y`) and left edge (`x`).
    pub base: u32,
    pub left: u32,
    pub bar_width: String,
    pub bars: Vec<Bar>,
    /// The largest value, as written at the top of the axis.
    pub max: String,
    /// `(x, label)` under the slots that have one.
    pub ticks: Vec<(String, String)>,
}

/// A series: its bars' class and, per slot, its value and what its bar says.
pub(crate) struct Series {
    pub class: &'static str,
    pub values: Vec<(f64, String)>,
}

impl Chart {
    const WIDTH: u32 = 640;
    const HEIGHT: u32 = 220;
    const TOP: u32 = 12;
    const BOTTOM: u32 = 28;

    /// A chart of `slots` slots, `left` units left of the plot for the axis' label, the
    /// `series` side by side in each slot, `ticks` labelling slots by index; the axis' top
    /// says `max_label` of the largest value.
    #[allow(clippy::cast_precision_loss)]
    pub fn draw(
        slots: usize,
        left: u32,
        ticks: &[(usize, String)],
        series: &[Series],
        max_label: impl Fn(f64) -> String,
    ) -> Self {
        let n = slots.max(1);
        let max = series.iter().flat_map(|s| s.values.iter().map(|v| v.0)).fold(0.0, f64::max);
        let top = if max > 0.0 { max } else { 1.0 };
        let plot_w = f64::from(Self::WIDTH - left - 4);
        let plot_h = f64::from(Self::HEIGHT - Self::TOP - Self::BOTTOM);
        let base = Self::HEIGHT - Self::BOTTOM;
        let slot = plot_w / n as f64;
        let bar = (slot / series.len().max(1) as f64 - 1.0).max(1.0);
        let mut bars = Vec::new();
        for (k, s) in series.iter().enumerate() {
            for (i, (value, title)) in s.values.iter().enumerate() {
                let h = plot_h * value / top;
                bars.push(Bar {
                    class: s.class,
                    x: format!("{:.1}", f64::from(left) + slot * i as f64 + 0.5 + bar * k as f64),
                    y: format!("{:.1}", f64::from(base) - h),
                    height: format!("{h:.1}"),
                    title: title.clone(),
                });
            }
        }
        let ticks = ticks
            .iter()
            .map(|(i, label)| (format!("{:.1}", f64::from(left) + slot * *i as f64 + slot / 2.0), label.clone()))
            .collect();
        Self {
            width: Self::WIDTH,
            height: Self::HEIGHT,
            base,
            left,
            bar_width: format!("{bar:.1}"),
            bars,
            max: max_label(max),
            ticks,
        }
    }

    /// A chart of one slot per day of `dates`, labelled under the first, middle and last.
    pub fn daily(dates: &[NaiveDate], left: u32, series: &[Series], max_label: impl Fn(f64) -> String) -> Self {
        let n = dates.len().max(1);
        let mut ticks: Vec<(usize, String)> = Vec::new();
        for i in [0, n / 2, n - 1] {
            if let Some(d) = dates.get(i) {
                let label = d.format("%b %-d").to_string();
                if !ticks.iter().any(|(_, t)| *t == label) {
                    ticks.push((i, label));
                }
            }
        }
        Self::draw(dates.len(), left, &ticks, series, max_label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_sit_side_by_side() {
        let series = |class, v: &[f64]| Series { class, values: v.iter().map(|&x| (x, format!("{x}"))).collect() };
        let c =
            Chart::draw(2, 40, &[(1, "b".to_owned())], &[series("a", &[2.0, 4.0]), series("z", &[0.0, 1.0])], |m| {
                format!("{m}")
            });
        assert_eq!(c.max, "4");
        assert_eq!(c.bars.len(), 4);
        // The tallest bar fills the plot: 220 - 12 - 28 = 180.
        assert_eq!(c.bars[1].height, "180.0");
        assert_eq!(c.bars[0].height, "90.0");
        assert_eq!((c.bars[2].class, c.bars[2].height.as_str()), ("z", "0.0"));
        // Slots of (640 - 40 - 4) / 2 = 298, two bars of 148 each.
        assert_eq!(c.bar_width, "148.0");
        assert_eq!((c.bars[0].x.as_str(), c.bars[2].x.as_str(), c.bars[1].x.as_str()), ("40.5", "188.5", "338.5"));
        assert_eq!(c.ticks, [("487.0".to_owned(), "b".to_owned())]);
    }

    #[test]
    fn days_are_labelled_first_middle_and_last() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap_or_default();
        let dates = [d("2026-03-01"), d("2026-03-02"), d("2026-03-03"), d("2026-03-04")];
        let c = Chart::daily(&dates, 52, &[], |_| String::new());
        let labels: Vec<&str> = c.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["Mar 1", "Mar 3", "Mar 4"]);
        assert_eq!(Chart::daily(&dates[..1], 52, &[], |_| String::new()).ticks.len(), 1);
    }
}
