//! British English sentences.

use super::*;

#[test]
fn numbers_use_british_and_before_the_last_two_digits() {
    let cases: &[(i64, &str)] = &[
        (0, "zero"),
        (1, "one"),
        (2, "two"),
        (5, "five"),
        (11, "eleven"),
        (12, "twelve"),
        (14, "fourteen"),
        (19, "nineteen"),
        (20, "twenty"),
        (21, "twenty-one"),
        (22, "twenty-two"),
        (25, "twenty-five"),
        (100, "one hundred"),
        (101, "one hundred and one"),
        (111, "one hundred and eleven"),
        (1000, "one thousand"),
        (1001, "one thousand and one"),
        (1234, "one thousand two hundred and thirty-four"),
        (2000, "two thousand"),
        (5000, "five thousand"),
        (11000, "eleven thousand"),
        (21000, "twenty-one thousand"),
        (123_000, "one hundred and twenty-three thousand"),
        (1_000_000, "one million"),
        (1_000_001, "one million and one"),
        (1_000_100, "one million one hundred"),
        (2_000_000, "two million"),
        (5_000_000, "five million"),
        (
            999_999_999,
            "nine hundred and ninety-nine million nine hundred and ninety-nine thousand \
             nine hundred and ninety-nine",
        ),
        (3_000_000_000, "three billion"),
        (-1, "minus one"),
        (-21, "minus twenty-one"),
        (-1000, "minus one thousand"),
    ];
    for (n, expected) in cases {
        assert_eq!(number("en", *n), *expected, "{n}");
    }
}

#[test]
fn money_is_singular_only_for_exactly_one() {
    assert_eq!(money("en", 0, "UAH"), "zero hrivnias");
    assert_eq!(money("en", 100, "UAH"), "one hrivnia");
    assert_eq!(money("en", 200, "UAH"), "two hrivnias");
    assert_eq!(money("en", 2100, "UAH"), "twenty-one hrivnias");
    assert_eq!(
        money("en", 123_456, "UAH"),
        "one thousand two hundred and thirty-four hrivnias and fifty-six kopecks"
    );
    assert_eq!(
        money("en", 123_400, "UAH"),
        "one thousand two hundred and thirty-four hrivnias"
    );
    assert_eq!(money("en", 101, "RUB"), "one rouble and one kopeck");
    assert_eq!(money("en", 502, "RUB"), "five roubles and two kopecks");
    assert_eq!(money("en", 111, "EUR"), "one euro and eleven cents");
    assert_eq!(money("en", 205, "EUR"), "two euros and five cents");
    assert_eq!(money("en", 121, "USD"), "one dollar and twenty-one cents");
    assert_eq!(money("en", 0, "USD"), "zero dollars");
}

#[test]
fn amounts_below_one_say_only_the_minor_units() {
    assert_eq!(money("en", 1, "USD"), "one cent");
    assert_eq!(money("en", 50, "UAH"), "fifty kopecks");
    assert_eq!(money("en", -5, "EUR"), "minus five cents");
}

#[test]
fn negative_amounts_start_with_minus() {
    assert_eq!(money("en", -100, "UAH"), "minus one hrivnia");
    assert_eq!(
        money("en", -2_500_050, "USD"),
        "minus twenty-five thousand dollars and fifty cents"
    );
}

#[test]
fn dates_are_the_ordinal_of_the_month_and_the_year() {
    assert_eq!(
        date("en", 2026, 11, 23),
        "the twenty-third of November two thousand and twenty-six"
    );
    assert_eq!(
        date("en", 2026, 1, 1),
        "the first of January two thousand and twenty-six"
    );
    assert_eq!(
        date("en", 2000, 2, 2),
        "the second of February two thousand"
    );
    assert_eq!(
        date("en", 2003, 3, 3),
        "the third of March two thousand and three"
    );
    assert_eq!(
        date("en", 2026, 5, 11),
        "the eleventh of May two thousand and twenty-six"
    );
    assert_eq!(
        date("en", 2026, 6, 22),
        "the twenty-second of June two thousand and twenty-six"
    );
    assert_eq!(
        date("en", 2026, 9, 30),
        "the thirtieth of September two thousand and twenty-six"
    );
    assert_eq!(
        date("en", 2026, 12, 31),
        "the thirty-first of December two thousand and twenty-six"
    );
    assert_eq!(
        date("en", 2026, 4, 20),
        "the twentieth of April two thousand and twenty-six"
    );
}

#[test]
fn years_before_two_thousand_are_said_in_pairs() {
    assert_eq!(
        date("en", 1999, 7, 4),
        "the fourth of July nineteen ninety-nine"
    );
    assert_eq!(
        date("en", 1905, 8, 12),
        "the twelfth of August nineteen oh five"
    );
    assert_eq!(
        date("en", 1900, 10, 15),
        "the fifteenth of October nineteen hundred"
    );
    assert_eq!(date("en", 1000, 3, 8), "the eighth of March one thousand");
}

#[test]
fn a_date_on_which_something_happens_reads_the_same_in_english() {
    assert_eq!(date_on("en", 2026, 11, 23), date("en", 2026, 11, 23));
}

#[test]
fn units_take_singular_or_plural() {
    assert_eq!(quantity("en", 1, "kWh"), "one kilowatt-hour");
    assert_eq!(
        quantity("en", 12000, "kWh"),
        "twelve thousand kilowatt-hours"
    );
    assert_eq!(quantity("en", 0, "kWh"), "zero kilowatt-hours");
    assert_eq!(quantity("en", 1, "m3"), "one cubic metre");
    assert_eq!(quantity("en", 21, "m3"), "twenty-one cubic metres");
    assert_eq!(quantity("en", -3, "m3"), "minus three cubic metres");
}

#[test]
fn digits_are_said_one_by_one() {
    assert_eq!(
        digits_of("en", "100200300"),
        "one zero zero two zero zero three zero zero"
    );
    assert_eq!(digits_of("en", "*#+"), "star hash plus");
}

#[test]
fn minutes_take_the_plural_from_two() {
    assert_eq!(quantity("en", 1, "min"), "one minute");
    assert_eq!(quantity("en", 3, "min"), "three minutes");
}
