//! ISO 4217 currency names for `dim_currency.currency_name`.
//!
//! An unknown code is an error naming the currency, never a silent NULL: a new currency in the
//! source must be added here deliberately.

/// Code and name, as ISO 4217 lists them.
pub const CURRENCY_NAMES: &[(&str, &str)] = &[
    ("AUD", "Australian Dollar"),
    ("CAD", "Canadian Dollar"),
    ("CHF", "Swiss Franc"),
    ("CNY", "Yuan Renminbi"),
    ("DKK", "Danish Krone"),
    ("EUR", "Euro"),
    ("GBP", "Pound Sterling"),
    ("HKD", "Hong Kong Dollar"),
    ("INR", "Indian Rupee"),
    ("JPY", "Yen"),
    ("NOK", "Norwegian Krone"),
    ("NZD", "New Zealand Dollar"),
    ("PLN", "Zloty"),
    ("SEK", "Swedish Krona"),
    ("SGD", "Singapore Dollar"),
    ("USD", "US Dollar"),
    ("ZAR", "Rand"),
];

/// The ISO 4217 name of `code`.
pub fn currency_name(code: &str) -> Option<&'static str> {
    CURRENCY_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totesys_currencies_have_their_iso_names() {
        assert_eq!(currency_name("GBP"), Some("Pound Sterling"));
        assert_eq!(currency_name("USD"), Some("US Dollar"));
        assert_eq!(currency_name("EUR"), Some("Euro"));
        assert_eq!(currency_name("XXX"), None);
        assert!(CURRENCY_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
