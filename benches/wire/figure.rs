//! One measured figure, printed beside its baseline and goal.

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// More is better (requests per second).
    Higher,
    /// Less is better (microseconds, bytes, seconds).
    Lower,
}

/// A goal: a ratio against the baseline, or an absolute bound.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// `value / baseline` must be at least (Higher) or at most (Lower) this.
    Ratio(f64),
    /// `value` must be at least (Higher) or at most (Lower) this.
    Absolute(f64),
    /// Shown, not judged.
    None,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Figure {
    /// What was measured (`signed pay/orderquery, c64`).
    pub name: String,
    /// Unit (`req/s`, `µs/req`, `MiB`, `s`).
    pub unit: &'static str,
    /// sandbank's figure.
    pub value: f64,
    /// The same measurement of the baseline, when there is one (`bare hyper`, its figure).
    pub baseline: Option<(&'static str, f64)>,
    /// Which way is better.
    pub better: Better,
    /// The goal.
    pub goal: Goal,
}

impl Figure {
    /// True when the goal is met (or there is none).
    pub fn met(&self) -> bool {
        let ok = |v: f64, bound: f64| match self.better {
            Better::Higher => v >= bound,
            Better::Lower => v <= bound,
        };
        match self.goal {
            Goal::None => true,
            Goal::Absolute(b) => ok(self.value, b),
            Goal::Ratio(r) => match self.baseline {
                Some((_, base)) if base > 0.0 => ok(self.value / base, r),
                _ => false,
            },
        }
    }

    /// The goal as text (`≥ 0.60× bare hyper`, `≤ 12 µs/req`).
    pub fn goal_text(&self) -> String {
        let cmp = match self.better {
            Better::Higher => "≥",
            Better::Lower => "≤",
        };
        match (self.goal, self.baseline) {
            (Goal::None, _) => String::new(),
            (Goal::Absolute(b), _) => format!("{cmp} {b} {}", self.unit),
            (Goal::Ratio(r), Some((name, _))) => format!("{cmp} {r:.2}× {name}"),
            (Goal::Ratio(r), None) => format!("{cmp} {r:.2}× (no baseline)"),
        }
    }
}

/// The median of `values` (the upper one of an even count; 0 when there are none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Print the figures as a table; returns how many goals were missed.
pub fn print(figures: &[Figure]) -> usize {
    println!(
        "\n{:<52} {:>12} {:<8} {:>26} {:>8}  {:<22} met",
        "figure", "sandbank", "unit", "baseline", "ratio", "goal"
    );
    let mut missed = 0;
    for f in figures {
        let (base, ratio) = match f.baseline {
            Some((name, b)) => (
                format!("{name} {}", fmt(b)),
                if b > 0.0 {
                    format!("{:.2}×", f.value / b)
                } else {
                    "-".into()
                },
            ),
            None => ("-".into(), "-".into()),
        };
        let met = f.met();
        if !met {
            missed += 1;
        }
        println!(
            "{:<52} {:>12} {:<8} {:>26} {:>8}  {:<22} {}",
            f.name,
            fmt(f.value),
            f.unit,
            base,
            ratio,
            f.goal_text(),
            if matches!(f.goal, Goal::None) {
                ""
            } else if met {
                "yes"
            } else {
                "NO"
            }
        );
    }
    missed
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}
