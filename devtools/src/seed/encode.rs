//! Turns a generated [`Dataset`] into COPY text, one source table at a time, in the column order
//! of the source catalog (so the COPY column list and the encoded fields cannot disagree).

use etl_contract::catalog::SourceTable;

use super::copy_text::CopyText;
use super::generate::{Dataset, OrderKind};
use super::reference::Reference;

/// Size of one chunk handed to COPY; big enough to amortise a round trip, small enough to stream.
pub const CHUNK_BYTES: usize = 1 << 20;

/// The `COPY ... FROM STDIN` statement for `table`. `FREEZE` is valid because seeding truncates
/// every table in the same transaction; it spares the first reader from rewriting every page.
pub fn copy_statement(table: &SourceTable) -> String {
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    format!(
        "COPY {} ({}) FROM STDIN WITH (FREEZE)",
        table.name,
        columns.join(", ")
    )
}

/// Encodes every row `data` holds for `table`, calling `emit` with chunks of about
/// [`CHUNK_BYTES`]; `emit` returns false to stop early (the receiver has gone away). Returns the
/// number of rows encoded, or `None` for a table the generator does not know.
pub fn encode_table(
    table: &SourceTable,
    data: &Dataset,
    reference: &Reference,
    mut emit: impl FnMut(Vec<u8>) -> bool,
) -> Option<u64> {
    let mut out = CopyText::with_capacity(CHUNK_BYTES + 4096);
    let mut rows = 0u64;
    let created = data.spec.reference_created_at();
    let mut row = |out: &mut CopyText, write: &dyn Fn(&mut CopyText)| -> bool {
        write(out);
        out.end_row();
        rows += 1;
        out.len() < CHUNK_BYTES || emit(out.take())
    };
    let mut ok = true;
    let id = |i: usize| i as i64 + 1;
    match table.name {
        "address" => {
            for (i, a) in data.addresses.iter().enumerate() {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(id(i))
                            .text(&a.line_1)
                            .opt_text(a.line_2.as_deref())
                            .opt_text(a.district)
                            .text(a.city)
                            .text(&a.postal_code)
                            .text(a.country)
                            .text(&a.phone)
                            .timestamp(created)
                            .timestamp(created);
                    });
            }
        }
        "counterparty" => {
            for (i, c) in data.counterparties.iter().enumerate() {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(id(i))
                            .text(&c.legal_name)
                            .int(c.legal_address_id.into())
                            .opt_text(c.commercial_contact.as_deref())
                            .opt_text(c.delivery_contact.as_deref())
                            .timestamp(created)
                            .timestamp(created);
                    });
            }
        }
        "currency" => {
            for (i, code) in reference.currency_codes.iter().enumerate() {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(id(i))
                            .text(code)
                            .timestamp(created)
                            .timestamp(created);
                    });
            }
        }
        "department" => {
            for (i, d) in reference.departments.iter().enumerate() {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(id(i))
                            .text(d.name)
                            .opt_text(d.location)
                            .opt_text(d.manager)
                            .timestamp(created)
                            .timestamp(created);
                    });
            }
        }
        "design" => {
            for (i, d) in data.designs.iter().enumerate() {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(id(i))
                            .timestamp(created)
                            .text(d.name)
                            .text(d.file_location)
                            .text(&d.file_name)
                            .timestamp(created);
                    });
            }
        }
        "payment_type" => {
            for (i, name) in reference.payment_type_names.iter().enumerate() {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(id(i))
                            .text(name)
                            .timestamp(created)
                            .timestamp(created);
                    });
            }
        }
        "staff" => {
            for (i, s) in data.staff.iter().enumerate() {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(id(i))
                            .text(s.first_name)
                            .text(s.last_name)
                            .int(s.department_id.into())
                            .text(&s.email)
                            .timestamp(created)
                            .timestamp(created);
                    });
            }
        }
        "sales_order" => {
            for s in data.orders.iter().filter(|o| o.kind == OrderKind::Sale) {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(s.order_id.into())
                            .timestamp(s.created_at)
                            .timestamp(s.created_at)
                            .int(s.design_id.into())
                            .int(s.staff_id.into())
                            .int(s.counterparty_id.into())
                            .int(s.quantity.into())
                            .money(s.unit_price_cents)
                            .int(s.currency_id.into())
                            .date(s.agreed_delivery_date)
                            .date(s.agreed_payment_date)
                            .int(s.location_id.into());
                    });
                if !ok {
                    break;
                }
            }
        }
        "purchase_order" => {
            for p in data.orders.iter().filter(|o| o.kind == OrderKind::Purchase) {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(p.order_id.into())
                            .timestamp(p.created_at)
                            .timestamp(p.created_at)
                            .int(p.staff_id.into())
                            .int(p.counterparty_id.into())
                            .text(std::str::from_utf8(&p.item_code).unwrap_or_default())
                            .int(p.quantity.into())
                            .money(p.unit_price_cents)
                            .int(p.currency_id.into())
                            .date(p.agreed_delivery_date)
                            .date(p.agreed_payment_date)
                            .int(p.location_id.into());
                    });
                if !ok {
                    break;
                }
            }
        }
        "transaction" => {
            for t in &data.orders {
                ok = ok
                    && row(&mut out, &|o| {
                        let (kind, sale, purchase) = match t.kind {
                            OrderKind::Sale => ("SALE", Some(t.order_id), None),
                            OrderKind::Purchase => ("PURCHASE", None, Some(t.order_id)),
                        };
                        o.int(t.transaction_id.into()).text(kind);
                        for id in [sale, purchase] {
                            match id {
                                Some(id) => o.int(id.into()),
                                None => o.opt_text(None),
                            };
                        }
                        o.timestamp(t.created_at).timestamp(t.created_at);
                    });
                if !ok {
                    break;
                }
            }
        }
        "payment" => {
            for p in &data.orders {
                ok = ok
                    && row(&mut out, &|o| {
                        o.int(p.transaction_id.into())
                            .timestamp(p.created_at)
                            .timestamp(p.payment_last_updated())
                            .int(p.transaction_id.into())
                            .int(p.counterparty_id.into())
                            .money(p.payment_amount_cents())
                            .int(p.currency_id.into())
                            .int(p.payment_type_id().into())
                            .boolean(p.settled_at.is_some())
                            .date(p.agreed_payment_date)
                            .int(p.company_ac_number.into())
                            .int(p.counterparty_ac_number.into());
                    });
                if !ok {
                    break;
                }
            }
        }
        _ => return None,
    }
    if ok && !out.is_empty() {
        emit(out.take());
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::generate::{SeedSpec, generate};
    use etl_contract::catalog::SOURCE_TABLES;

    #[test]
    fn every_source_table_is_encoded_with_one_field_per_column() {
        let reference = Reference::load();
        let spec = SeedSpec {
            scale: 50,
            seed: 1,
            end: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        };
        let data = generate(spec, &reference);
        for table in &SOURCE_TABLES {
            let mut text = Vec::new();
            let rows = encode_table(table, &data, &reference, |chunk| {
                text.extend(chunk);
                true
            })
            .unwrap_or_else(|| panic!("{} has no encoder", table.name));
            let text = String::from_utf8(text).unwrap();
            assert_eq!(text.lines().count() as u64, rows, "{}", table.name);
            assert!(rows > 0, "{}", table.name);
            for line in text.lines() {
                assert_eq!(
                    line.split('\t').count(),
                    table.columns.len(),
                    "{}: {line}",
                    table.name
                );
            }
        }
    }
}
