//! Knobs: the choices a study offers, the values they take, and a design
//! (one value per knob, plus the seed). Knob ids are URL parameters and CLI
//! `--set` names, so they are stable and shared across studies.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// A knob's value. Whole numbers serialize without a fraction (`100`, not
/// `100.0`), as a URL would write them.
#[derive(Clone, Debug, PartialEq)]
pub enum KnobValue {
    Toggle(bool),
    Number(f64),
    Choice(String),
}

impl Serialize for KnobValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            KnobValue::Toggle(on) => s.serialize_bool(*on),
            KnobValue::Number(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => {
                s.serialize_i64(*x as i64)
            }
            KnobValue::Number(x) => s.serialize_f64(*x),
            KnobValue::Choice(text) => s.serialize_str(text),
        }
    }
}

impl fmt::Display for KnobValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KnobValue::Toggle(on) => write!(f, "{on}"),
            KnobValue::Number(x) => write!(f, "{x}"),
            KnobValue::Choice(text) => f.write_str(text),
        }
    }
}

/// What kind of control a knob is, with the values it allows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KnobKind {
    /// One of a list of named values.
    Choice { values: Vec<String> },
    /// A number in `[min, max]`, moved in steps of `step`.
    Slider { min: f64, max: f64, step: f64 },
    /// On or off.
    Toggle,
}

/// A knob as a study offers it, validated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Knob {
    /// Stable id: the URL parameter and the CLI `--set` name.
    pub id: String,
    pub label: String,
    /// One or two sentences the UI shows beside the control.
    pub help: String,
    #[serde(flatten)]
    pub kind: KnobKind,
    pub default: KnobValue,
    /// Integer-valued sliders (tree counts, bucket counts) refuse fractions.
    pub integer: bool,
}

impl Knob {
    /// Reads a value written as text (a URL parameter, a CLI `--set`).
    ///
    /// # Errors
    /// A sentence saying what is wrong and listing the valid values.
    pub fn parse_value(&self, text: &str) -> Result<KnobValue, String> {
        let text = text.trim();
        let value = match &self.kind {
            KnobKind::Choice { .. } => KnobValue::Choice(text.to_owned()),
            KnobKind::Toggle => match text {
                "true" | "1" | "on" | "yes" => KnobValue::Toggle(true),
                "false" | "0" | "off" | "no" => KnobValue::Toggle(false),
                _ => return Err(format!("`{text}` is not a valid value; {}", self.valid())),
            },
            KnobKind::Slider { .. } => match text.parse::<f64>() {
                Ok(x) => KnobValue::Number(x),
                Err(_) => return Err(format!("`{text}` is not a number; {}", self.valid())),
            },
        };
        self.check(&value)?;
        Ok(value)
    }

    /// Checks that `value` is one this knob allows.
    ///
    /// # Errors
    /// A sentence saying what is wrong and listing the valid values.
    pub fn check(&self, value: &KnobValue) -> Result<(), String> {
        let ok = match (&self.kind, value) {
            (KnobKind::Choice { values }, KnobValue::Choice(v)) => values.contains(v),
            (KnobKind::Slider { min, max, .. }, KnobValue::Number(x)) => {
                x.is_finite() && *min <= *x && *x <= *max && (!self.integer || x.fract() == 0.0)
            }
            (KnobKind::Toggle, KnobValue::Toggle(_)) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("`{value}` is not a valid value; {}", self.valid()))
        }
    }

    /// "valid values are ..." for error messages.
    pub fn valid(&self) -> String {
        match &self.kind {
            KnobKind::Choice { values } => format!("valid values are {}", values.join(", ")),
            KnobKind::Slider { min, max, .. } if self.integer => {
                format!("valid values are whole numbers from {min} to {max}")
            }
            KnobKind::Slider { min, max, .. } => {
                format!("valid values are numbers from {min} to {max}")
            }
            KnobKind::Toggle => "valid values are true and false".to_owned(),
        }
    }
}

/// What a world accepts for a knob id: the outer bounds a study's knob must
/// stay inside. A study may offer a subset (fewer choices, a narrower range).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Accepts {
    Choice(&'static [&'static str]),
    Number { min: f64, max: f64, integer: bool },
    Toggle,
}

/// A knob id a world understands, with what it accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KnobDef {
    pub id: &'static str,
    pub accepts: Accepts,
}

/// A choice knob's definition.
pub(crate) const fn choice(id: &'static str, values: &'static [&'static str]) -> KnobDef {
    KnobDef {
        id,
        accepts: Accepts::Choice(values),
    }
}

/// A numeric knob's definition.
pub(crate) const fn number(id: &'static str, min: f64, max: f64, integer: bool) -> KnobDef {
    KnobDef {
        id,
        accepts: Accepts::Number { min, max, integer },
    }
}

/// A toggle knob's definition.
pub(crate) const fn toggle(id: &'static str) -> KnobDef {
    KnobDef {
        id,
        accepts: Accepts::Toggle,
    }
}

/// One full set of choices: the seed and a value for every knob the study
/// offers. Built from the study's defaults, then changed knob by knob, each
/// change checked against the knob.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Design {
    pub seed: u64,
    pub values: BTreeMap<String, KnobValue>,
}

/// The seed a design starts from unless the URL or the CLI says otherwise.
pub const DEFAULT_SEED: u64 = 1;

impl Design {
    /// The value of knob `id`, if the study offers it.
    pub fn get(&self, id: &str) -> Option<&KnobValue> {
        self.values.get(id)
    }

    /// The choice made for `id`, or `fallback` if the study does not offer it.
    pub(crate) fn choice<'a>(&'a self, id: &str, fallback: &'a str) -> &'a str {
        match self.values.get(id) {
            Some(KnobValue::Choice(c)) => c,
            _ => fallback,
        }
    }

    /// The number set for `id`, or `fallback`.
    pub(crate) fn number(&self, id: &str, fallback: f64) -> f64 {
        match self.values.get(id) {
            Some(KnobValue::Number(x)) => *x,
            _ => fallback,
        }
    }

    /// Whether `id` is on, or `fallback`.
    pub(crate) fn toggle(&self, id: &str, fallback: bool) -> bool {
        match self.values.get(id) {
            Some(KnobValue::Toggle(on)) => *on,
            _ => fallback,
        }
    }
}
