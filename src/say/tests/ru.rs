//! Russian sentences: plural forms, gender, dates.

use super::*;

#[test]
fn numbers_zero_to_billions() {
    let cases: &[(i64, &str)] = &[
        (0, "ноль"),
        (1, "один"),
        (2, "два"),
        (5, "пять"),
        (11, "одиннадцать"),
        (12, "двенадцать"),
        (14, "четырнадцать"),
        (19, "девятнадцать"),
        (20, "двадцать"),
        (21, "двадцать один"),
        (22, "двадцать два"),
        (25, "двадцать пять"),
        (100, "сто"),
        (101, "сто один"),
        (111, "сто одиннадцать"),
        (1000, "одна тысяча"),
        (1001, "одна тысяча один"),
        (2000, "две тысячи"),
        (5000, "пять тысяч"),
        (11000, "одиннадцать тысяч"),
        (21000, "двадцать одна тысяча"),
        (1_000_000, "один миллион"),
        (1_000_001, "один миллион один"),
        (2_000_000, "два миллиона"),
        (5_000_000, "пять миллионов"),
        (
            999_999_999,
            "девятьсот девяносто девять миллионов девятьсот девяносто девять тысяч \
             девятьсот девяносто девять",
        ),
        (1_000_000_000, "один миллиард"),
        (-1, "минус один"),
        (-12, "минус двенадцать"),
    ];
    for (n, expected) in cases {
        assert_eq!(number("ru", *n), *expected, "{n}");
    }
}

#[test]
fn roubles_are_masculine_with_three_plural_forms() {
    let cases: &[(i64, &str)] = &[
        (0, "ноль рублей"),
        (100, "один рубль"),
        (200, "два рубля"),
        (500, "пять рублей"),
        (1100, "одиннадцать рублей"),
        (1200, "двенадцать рублей"),
        (2100, "двадцать один рубль"),
        (2200, "двадцать два рубля"),
        (11_100, "сто одиннадцать рублей"),
        (200_000, "две тысячи рублей"),
    ];
    for (minor_units, expected) in cases {
        assert_eq!(money("ru", *minor_units, "RUB"), *expected, "{minor_units}");
    }
}

#[test]
fn hryvnias_and_kopecks_are_feminine() {
    assert_eq!(money("ru", 0, "UAH"), "ноль гривен");
    assert_eq!(money("ru", 101, "UAH"), "одна гривна одна копейка");
    assert_eq!(money("ru", 202, "UAH"), "две гривны две копейки");
    assert_eq!(money("ru", 505, "UAH"), "пять гривен пять копеек");
    assert_eq!(
        money("ru", 1111, "UAH"),
        "одиннадцать гривен одиннадцать копеек"
    );
    assert_eq!(
        money("ru", 2121, "UAH"),
        "двадцать одна гривна двадцать одна копейка"
    );
    assert_eq!(
        money("ru", 123_456, "UAH"),
        "одна тысяча двести тридцать четыре гривны пятьдесят шесть копеек"
    );
}

#[test]
fn dollars_and_cents_are_masculine() {
    assert_eq!(money("ru", 0, "USD"), "ноль долларов");
    assert_eq!(money("ru", 101, "USD"), "один доллар один цент");
    assert_eq!(money("ru", 202, "USD"), "два доллара два цента");
    assert_eq!(money("ru", 1105, "USD"), "одиннадцать долларов пять центов");
    assert_eq!(
        money("ru", 2111, "USD"),
        "двадцать один доллар одиннадцать центов"
    );
}

#[test]
fn the_euro_does_not_decline_but_its_number_is_masculine() {
    assert_eq!(money("ru", 0, "EUR"), "ноль евро");
    assert_eq!(money("ru", 100, "EUR"), "один евро");
    assert_eq!(money("ru", 221, "EUR"), "два евро двадцать один цент");
    assert_eq!(money("ru", 1102, "EUR"), "одиннадцать евро два цента");
}

#[test]
fn amounts_below_one_and_negative_amounts() {
    assert_eq!(money("ru", 1, "RUB"), "одна копейка");
    assert_eq!(money("ru", -100, "RUB"), "минус один рубль");
    assert_eq!(
        money("ru", -123_456, "RUB"),
        "минус одна тысяча двести тридцать четыре рубля пятьдесят шесть копеек"
    );
    assert_eq!(money("ru", -1, "USD"), "минус один цент");
}

#[test]
fn a_date_is_a_nominative_day_genitive_month_and_ordinal_year() {
    assert_eq!(
        date("ru", 2026, 11, 23),
        "двадцать третье ноября две тысячи двадцать шестого года"
    );
    assert_eq!(
        date("ru", 2026, 1, 1),
        "первое января две тысячи двадцать шестого года"
    );
    assert_eq!(
        date("ru", 2026, 2, 2),
        "второе февраля две тысячи двадцать шестого года"
    );
    assert_eq!(
        date("ru", 2023, 3, 3),
        "третье марта две тысячи двадцать третьего года"
    );
    assert_eq!(
        date("ru", 2027, 4, 11),
        "одиннадцатое апреля две тысячи двадцать седьмого года"
    );
    assert_eq!(
        date("ru", 2030, 5, 22),
        "двадцать второе мая две тысячи тридцатого года"
    );
    assert_eq!(
        date("ru", 2012, 6, 30),
        "тридцатое июня две тысячи двенадцатого года"
    );
    assert_eq!(
        date("ru", 2000, 12, 31),
        "тридцать первое декабря двухтысячного года"
    );
}

#[test]
fn a_date_on_which_something_happens_is_genitive() {
    assert_eq!(
        date_on("ru", 2026, 11, 23),
        "двадцать третьего ноября две тысячи двадцать шестого года"
    );
    assert_eq!(
        date_on("ru", 2026, 7, 1),
        "первого июля две тысячи двадцать шестого года"
    );
    assert_eq!(
        date_on("ru", 2026, 8, 22),
        "двадцать второго августа две тысячи двадцать шестого года"
    );
    assert_eq!(
        date_on("ru", 2026, 9, 30),
        "тридцатого сентября две тысячи двадцать шестого года"
    );
}

#[test]
fn years_say_only_their_last_word_as_an_ordinal() {
    assert_eq!(
        date("ru", 1999, 10, 4),
        "четвёртое октября тысяча девятьсот девяносто девятого года"
    );
    assert_eq!(
        date("ru", 1900, 10, 4),
        "четвёртое октября тысяча девятисотого года"
    );
    assert_eq!(
        date("ru", 2300, 10, 4),
        "четвёртое октября две тысячи трёхсотого года"
    );
}

#[test]
fn kilowatt_hours_are_masculine() {
    assert_eq!(quantity("ru", 1, "kWh"), "один киловатт-час");
    assert_eq!(quantity("ru", 2, "kWh"), "два киловатт-часа");
    assert_eq!(quantity("ru", 5, "kWh"), "пять киловатт-часов");
    assert_eq!(quantity("ru", 12, "kWh"), "двенадцать киловатт-часов");
    assert_eq!(quantity("ru", 21, "kWh"), "двадцать один киловатт-час");
    assert_eq!(
        quantity("ru", 12000, "kWh"),
        "двенадцать тысяч киловатт-часов"
    );
}

#[test]
fn cubic_metres_take_the_genitive_after_two_to_four() {
    assert_eq!(quantity("ru", 1, "m3"), "один кубический метр");
    assert_eq!(quantity("ru", 3, "m3"), "три кубических метра");
    assert_eq!(quantity("ru", 11, "m3"), "одиннадцать кубических метров");
    assert_eq!(quantity("ru", 0, "m3"), "ноль кубических метров");
}

#[test]
fn digits_use_the_counting_forms() {
    assert_eq!(digits_of("ru", "1200"), "один два ноль ноль");
    assert_eq!(digits_of("ru", "*59#"), "звёздочка пять девять решётка");
}

#[test]
fn minutes_are_feminine() {
    assert_eq!(quantity("ru", 1, "min"), "одна минута");
    assert_eq!(quantity("ru", 2, "min"), "две минуты");
    assert_eq!(quantity("ru", 5, "min"), "пять минут");
    assert_eq!(quantity("ru", 11, "min"), "одиннадцать минут");
    assert_eq!(quantity("ru", 22, "min"), "двадцать две минуты");
}
