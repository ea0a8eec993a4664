//! US dollars as integers: sums of money are never floats.
//!
//! An amount is a whole number of pico-dollars (10^-12 USD): Lambda's price per
//! GB-second has ten decimals ($0.0000166667), and products and sums of such prices stay
//! exact. Amounts are written as decimal text (`"3.60"`) for people and programs alike,
//! and read from decimal text (the price file) or a YAML number (`budget_usd: 5`).

use std::fmt;

/// Decimal places an amount keeps.
const SCALE: u32 = 12;
const ONE_DOLLAR: u128 = 10u128.pow(SCALE);

/// A non-negative amount of US dollars, exact to 10^-12.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Usd(u128);

impl Usd {
    pub const ZERO: Usd = Usd(0);

    /// `dollars` whole dollars.
    pub fn dollars(dollars: u64) -> Usd {
        Usd(u128::from(dollars) * ONE_DOLLAR)
    }

    /// Reads decimal text: `"3"`, `"0.10"`, `"0.0000166667"`. No sign, no exponent, at
    /// most twelve decimals.
    pub fn parse(text: &str) -> Result<Usd, String> {
        let text = text.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) {
            return Err(format!(
                "`{text}` is not an amount of US dollars (write digits, such as 5 or 0.10)"
            ));
        }
        if fraction.len() > SCALE as usize {
            return Err(format!(
                "`{text}` has more than {SCALE} decimals, more than stackpro keeps"
            ));
        }
        let too_large = || format!("`{text}` is too large an amount of US dollars");
        let whole: u128 = whole.parse().map_err(|_| too_large())?;
        let padded = format!("{fraction:0<width$}", width = SCALE as usize);
        let fraction: u128 = padded.parse().map_err(|_| too_large())?;
        whole
            .checked_mul(ONE_DOLLAR)
            .and_then(|w| w.checked_add(fraction))
            .map(Usd)
            .ok_or_else(too_large)
    }

    /// This amount `n` times.
    pub fn times(self, n: u64) -> Usd {
        Usd(self.0.saturating_mul(u128::from(n)))
    }

    /// This amount times `numerator / denominator`, rounded half up to 10^-12.
    pub fn times_ratio(self, numerator: u128, denominator: u128) -> Usd {
        assert!(denominator > 0, "a ratio with denominator 0");
        let product = self.0.saturating_mul(numerator);
        Usd((product + denominator / 2) / denominator)
    }

    pub fn saturating_sub(self, other: Usd) -> Usd {
        Usd(self.0.saturating_sub(other.0))
    }

    /// Pico-dollars, for comparisons in tests.
    pub fn pico(self) -> u128 {
        self.0
    }

    /// Rounded half up to cents: `"3.60"`, for totals people read.
    pub fn cents(self) -> String {
        let cents = (self.0 + ONE_DOLLAR / 200) / (ONE_DOLLAR / 100);
        format!("{}.{:02}", cents / 100, cents % 100)
    }

    /// Exact, with at least two decimals: `"3.60"`, `"0.0000166667"`.
    pub fn exact(self) -> String {
        let whole = self.0 / ONE_DOLLAR;
        let fraction = format!("{:0width$}", self.0 % ONE_DOLLAR, width = SCALE as usize);
        let trimmed = fraction.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &fraction[..2]
        } else {
            trimmed
        };
        format!("{whole}.{shown}")
    }
}

impl std::ops::Add for Usd {
    type Output = Usd;
    fn add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }
}

impl std::iter::Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, |a, b| a + b)
    }
}

/// `$3.60`: the amount rounded to cents.
impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.cents())
    }
}

/// Exact decimal text, so no program reads a float back.
impl serde::Serialize for Usd {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.exact())
    }
}

/// Written as exact decimal text (`"3.60"`, `"0.0000166667"`), never a float.
impl schemars::JsonSchema for Usd {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Usd".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^-?[0-9]+(\\.[0-9]+)?$",
            "description": "US dollars as exact decimal text"
        })
    }
}

/// A YAML or JSON number of dollars (`5`, `12.50`); not text, and not below zero.
impl<'de> serde::Deserialize<'de> for Usd {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Usd, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Usd;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of US dollars of at least 0, such as 5 or 12.50")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Usd, E> {
                Ok(Usd::dollars(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Usd, E> {
                u64::try_from(v)
                    .map(Usd::dollars)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Usd, E> {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(E::invalid_value(serde::de::Unexpected::Float(v), &self));
                }
                // The shortest text that reads back as `v`: what was written, for any
                // amount a person writes.
                Usd::parse(&format!("{v}")).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_reads_and_prints_exactly() {
        assert_eq!(Usd::parse("3").unwrap(), Usd::dollars(3));
        assert_eq!(Usd::parse("0.0000166667").unwrap().pico(), 16_666_700);
        assert_eq!(Usd::parse("0.0000166667").unwrap().exact(), "0.0000166667");
        assert_eq!(Usd::parse("3.6").unwrap().exact(), "3.60");
        assert_eq!(Usd::parse("0.5").unwrap().exact(), "0.50");
        assert_eq!(Usd::ZERO.exact(), "0.00");
        for bad in ["", "-1", "1e3", "five", "1.2.3", ".5", "0.0000000000001"] {
            assert!(Usd::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cents_round_half_up() {
        assert_eq!(Usd::parse("3.604999").unwrap().cents(), "3.60");
        assert_eq!(Usd::parse("3.605").unwrap().cents(), "3.61");
        assert_eq!(Usd::parse("0.004").unwrap().to_string(), "$0.00");
        assert_eq!(Usd::dollars(12).to_string(), "$12.00");
    }

    #[test]
    fn sums_of_prices_stay_exact() {
        // Ten times $0.10 is $1.00 exactly (0.1 is not exact in binary floating point).
        let ten: Usd = std::iter::repeat_n(Usd::parse("0.10").unwrap(), 10).sum();
        assert_eq!(ten, Usd::dollars(1));
        // 12,500 GB-s at $0.0000166667.
        let gbs = Usd::parse("0.0000166667").unwrap().times(12_500);
        assert_eq!(gbs.exact(), "0.20833375");
        assert_eq!(Usd::dollars(1).times_ratio(1, 3).exact(), "0.333333333333");
        assert_eq!(Usd::dollars(2).times_ratio(1, 3).exact(), "0.666666666667");
    }

    #[test]
    fn budgets_are_numbers_of_at_least_zero() {
        let read = |text: &str| serde_yaml::from_str::<Usd>(text);
        assert_eq!(read("5").unwrap(), Usd::dollars(5));
        assert_eq!(read("4.99").unwrap().exact(), "4.99");
        assert_eq!(read("0").unwrap(), Usd::ZERO);
        let negative = read("-5").unwrap_err().to_string();
        assert!(
            negative.contains(
                "invalid value: integer `-5`, expected a number of US dollars of at least 0"
            ),
            "{negative}"
        );
        assert!(read("-0.5").is_err());
        let text = read("five").unwrap_err().to_string();
        assert!(text.contains("invalid type: string \"five\""), "{text}");
        assert!(read("\"5\"").is_err());
    }
}
