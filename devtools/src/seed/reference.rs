//! The generator's reference data, compiled in from `seeds/totesys/reference/`.
//!
//! Fixed rows (currencies, departments, payment types) and the vocabularies names are drawn from
//! live in data files so that changing what generated data looks like is an edit to `seeds/`,
//! not to code.

macro_rules! reference_file {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../seeds/totesys/reference/",
            $name
        ))
    };
}

/// A fixed department row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub name: &'static str,
    pub location: Option<&'static str>,
    pub manager: Option<&'static str>,
}

/// Everything the generator draws from. Built once; all slices borrow the compiled-in text.
#[derive(Debug, Clone)]
pub struct Reference {
    pub currency_codes: Vec<&'static str>,
    pub departments: Vec<Department>,
    pub payment_type_names: Vec<&'static str>,
    pub design_names: Vec<&'static str>,
    pub file_locations: Vec<&'static str>,
    pub first_names: Vec<&'static str>,
    pub last_names: Vec<&'static str>,
    pub cities: Vec<&'static str>,
    pub districts: Vec<&'static str>,
    pub countries: Vec<&'static str>,
    pub street_names: Vec<&'static str>,
    pub street_suffixes: Vec<&'static str>,
    pub company_suffixes: Vec<&'static str>,
}

/// One value per non-empty line.
fn words(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Tab-separated rows after the header line; an empty field is NULL.
fn rows(text: &'static str) -> Vec<Vec<Option<&'static str>>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split('\t')
                .map(|f| Some(f.trim()).filter(|f| !f.is_empty()))
                .collect()
        })
        .collect()
}

/// Column `i` of a fixed-row file, which must be present (a malformed reference file is a build
/// defect caught by the unit tests below, so an empty string stands in rather than a panic).
fn field(row: &[Option<&'static str>], i: usize) -> Option<&'static str> {
    row.get(i).copied().flatten()
}

impl Reference {
    pub fn load() -> Self {
        Reference {
            currency_codes: rows(reference_file!("currency.tsv"))
                .iter()
                .map(|r| field(r, 1).unwrap_or_default())
                .collect(),
            departments: rows(reference_file!("department.tsv"))
                .iter()
                .map(|r| Department {
                    name: field(r, 1).unwrap_or_default(),
                    location: field(r, 2),
                    manager: field(r, 3),
                })
                .collect(),
            payment_type_names: rows(reference_file!("payment_type.tsv"))
                .iter()
                .map(|r| field(r, 1).unwrap_or_default())
                .collect(),
            design_names: words(reference_file!("design_names.txt")),
            file_locations: words(reference_file!("file_locations.txt")),
            first_names: words(reference_file!("first_names.txt")),
            last_names: words(reference_file!("last_names.txt")),
            cities: words(reference_file!("cities.txt")),
            districts: words(reference_file!("districts.txt")),
            countries: words(reference_file!("countries.txt")),
            street_names: words(reference_file!("street_names.txt")),
            street_suffixes: words(reference_file!("street_suffixes.txt")),
            company_suffixes: words(reference_file!("company_suffixes.txt")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_rows_match_totesys() {
        let r = Reference::load();
        assert_eq!(r.currency_codes, ["GBP", "USD", "EUR"]);
        assert_eq!(
            r.payment_type_names,
            [
                "SALES_RECEIPT",
                "SALES_REFUND",
                "PURCHASE_PAYMENT",
                "PURCHASE_REFUND"
            ]
        );
        let names: Vec<_> = r.departments.iter().map(|d| d.name).collect();
        assert_eq!(
            names,
            [
                "Sales",
                "Purchasing",
                "Production",
                "Dispatch",
                "Finance",
                "Facilities",
                "Communications",
                "HR"
            ]
        );
        assert_eq!(r.departments[3].location, Some("Leds"));
        assert_eq!(r.design_names.len(), 12);
    }

    #[test]
    fn vocabularies_are_non_empty() {
        let r = Reference::load();
        for (name, list) in [
            ("file_locations", &r.file_locations),
            ("first_names", &r.first_names),
            ("last_names", &r.last_names),
            ("cities", &r.cities),
            ("districts", &r.districts),
            ("countries", &r.countries),
            ("street_names", &r.street_names),
            ("street_suffixes", &r.street_suffixes),
            ("company_suffixes", &r.company_suffixes),
        ] {
            assert!(!list.is_empty(), "{name} is empty");
        }
        assert!(r.last_names.iter().any(|n| n.contains('\'')));
    }
}
