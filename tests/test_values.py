"""The values a text states (`qa.values`) and what a question asks for (`qa.asks`): pure functions."""

from __future__ import annotations

import pytest

from qa.asks import (
    asked_quantities,
    asks_for_count,
    asks_for_duration,
    asks_for_number,
    asks_for_place,
    asks_for_time,
    asks_for_year,
    counted_phrase,
    counted_words,
)
from qa.types import Chunk, Passage
from qa.values import (
    count_from_ordinal,
    is_duration,
    names_a_time,
    other_values,
    states_asked_value,
    time_values,
)


def _from(source: str, text: str, score: float = 0.5) -> Passage:
    return Passage(Chunk(id=f"c-{source}", source=source, text=text, start=0, end=len(text), language="en"), score, 1)


def test_time_values_are_compared_across_languages() -> None:
    assert time_values("in the spring of 2019") == {"spring", "2019"}
    assert time_values("जुलैमध्ये २०१९ साली") == {"july", "2019"}
    assert time_values("फरवरी में") == time_values("in February") == {"february"}
    assert time_values("शुक्रवार को") == time_values("शुक्रवारी") == time_values("on Friday") == {"friday"}


def test_a_when_or_how_many_question_wants_a_sentence_stating_a_date_or_a_number() -> None:
    assert states_asked_value("When was the bridge opened?", "It opened in the spring.")
    assert not states_asked_value("When was the bridge opened?", "The mayor opened it.")
    assert states_asked_value("On which day did the mayor open it?", "The mayor opened it on Sunday.")
    assert states_asked_value("How many buses run?", "सात बस चलती हैं।")
    assert not states_asked_value("How many buses run?", "It was the first bus.")  # a series' start, not a count
    assert states_asked_value("Who opened the bridge?", "The mayor opened it.")


def test_a_count_is_read_from_an_ordinal_of_the_counted_thing() -> None:
    shown = [
        _from("a.txt", "The mayor opened the bridge in 2019.", 0.4),
        _from("b.txt", "शहराला मिळालेली ही तिसरी टेस्ला बस आहे.", 0.2),
    ]
    found = count_from_ordinal("How many Tesla buses has the city received?", shown)
    assert found is not None and (found.count, found.index) == (3, 1)
    assert counted_phrase("How many Tesla buses has the city received?") == "Tesla buses"


def test_no_count_from_a_first_an_unrelated_ordinal_or_a_non_count_question() -> None:
    first = [_from("a.txt", "It was the first Tesla bus in the city.")]
    other = [_from("a.txt", "For the second year running the city bought no new buses.")]
    assert count_from_ordinal("How many Tesla buses does the city have?", first) is None
    assert count_from_ordinal("How many ferries does the city run?", other) is None
    assert count_from_ordinal("When did the city buy Tesla buses?", first) is None


def test_an_ordinal_numbers_the_words_right_after_it_and_an_ordinal_time_an_event() -> None:
    # "the city's second electric bus arrived as a gift": the second bus, not the second gift.
    gift = [_from("a.txt", "शहराला दुसरी इलेक्ट्रिक टेस्ला बस भेट म्हणून मिळाली.")]
    assert count_from_ordinal("शहराला किती भेटवस्तू मिळाल्या?", gift) is None
    assert count_from_ordinal("शहराला किती टेस्ला बस मिळाल्या?", gift) is not None
    # "for the second time the company gave the city this bus model": what the event gave, further on.
    again = [_from("a.txt", "दुसऱ्यांदा कंपनीने आपल्या शहराला हे बस मॉडेल दिले आहे.")]
    found = count_from_ordinal("How many buses has the city received?", again)
    assert found is not None and found.count == 2
    english = [_from("a.txt", "For the second time the company gave a bus to the city.")]
    assert count_from_ordinal("How many buses has the city received?", english) is not None


def test_how_many_years_asks_a_length_of_time_not_a_count() -> None:
    assert not asks_for_count("How many years did the ferry line stay closed?")
    assert not asks_for_count("How many days did the strike last?")
    assert asks_for_count("How many ferries does the line run?")
    shown = [_from("a.txt", "The second ferry of the line sailed after twelve years.")]
    assert count_from_ordinal("How many years did the ferry line stay closed?", shown) is None


@pytest.mark.parametrize(
    ("question", "answer", "text", "expected"),
    [
        # A year the other report gives, in any script.
        ("In which year was the footbridge completed?", "1998", "पूल 2001 मध्ये पूर्ण झाला.", ["2001"]),
        ("पुल किस वर्ष पूरा हुआ?", "1998", "The footbridge was completed in २००१.", ["2001"]),
        # A text that states the answer's value agrees; its other years are about something else.
        ("When was the footbridge completed?", "in 1998", "Completed in 1998, it was repainted in 2015.", []),
        # Numbers as written, with their multiplier; the answer's own value in another form is no disagreement.
        (
            "How much did the footbridge cost?",
            "90 thousand euros",
            "It cost 120 thousand euros in 1997.",
            ["120 thousand"],
        ),
        ("How much did the footbridge cost?", "90 thousand euros", "Its price was 90,000 euros.", []),
        # Amounts in words are values too: "tens of millions" is not "several million".
        (
            "How many bottles did the plant fill?",
            "tens of millions",
            "The plant filled several million bottles in its first year.",
            ["several million"],
        ),
        ("कारखान्याने किती बाटल्या भरल्या?", "लाखो", "कारखान्याने कोट्यवधी बाटल्या भरल्या.", ["कोट्यवधी"]),
        # A rough amount is weighed against rough amounts, a figure against figures.
        ("How much did the plant cost?", "90 thousand euros", "It filled several million bottles.", []),
        ("How many bottles did the plant fill?", "millions", "It filled tens of millions of bottles.", []),
        ("How many people came?", "millions", "Hundreds of thousands of people came.", ["hundreds of thousands"]),
        # An answer of no single value, or a question that asks for neither, has no other version.
        ("When was the footbridge completed?", "in the spring", "It opened in 2001.", []),
        ("Who designed the footbridge?", "Ada Morrow", "Ada Morrow, 41, designed it in 1996.", []),
    ],
)
def test_other_values_are_what_a_text_gives_for_the_asked_value_besides_the_answer(
    question: str, answer: str, text: str, expected: list[str]
) -> None:
    assert other_values(question, answer, text) == expected


def test_a_text_names_a_time_by_name_or_relative_word() -> None:
    assert names_a_time("last week") and names_a_time("आज सुबह") and names_a_time("in 1998")
    assert not names_a_time("the mayor") and not names_a_time("निकला") and not names_a_time("लिंडहोम में")


def test_a_length_of_time_is_not_a_time() -> None:
    assert is_duration("12 years") and is_duration("तीन दिन")
    assert not is_duration("12 years ago") and not is_duration("in May, after 12 years")
    assert not is_duration("since 2019, twelve years")


def test_what_a_question_asks_for() -> None:
    assert asks_for_time("In what year did the ferry open?") and asks_for_time("फ़ेरी कब शुरू हुई?")
    assert not asks_for_time("Who opened the ferry?")
    assert asks_for_year("In what year did the ferry open?") and asks_for_year("फ़ेरी किस साल शुरू हुई?")
    assert asks_for_year("फेरी कोणत्या वर्षी सुरू झाली?") and not asks_for_year("When did the ferry open?")
    # "Which year/day" in its other common Hindi and Marathi forms.
    assert asks_for_year("फ़ेरी कौन से साल शुरू हुई?") and asks_for_year("फेरी कोणत्या साली सुरू झाली?")
    assert asks_for_time("फ़ेरी कौन-सी तारीख को शुरू हुई?") and not asks_for_year("फ़ेरी कौन सी तारीख को शुरू हुई?")
    assert not asks_for_time("फ़ेरी कौन सा नेता चलाता है?")
    assert asks_for_place("Where did the ferry sink?") and asks_for_place("फ़ेरी कहाँ डूबी?")
    assert asks_for_place("फेरी कुठे बुडाली?") and asks_for_place("फ़ेरी किस जगह डूबी?")
    assert not asks_for_place("When did the ferry sink?")
    # The time of day: "what time", "किस समय", "कोणत्या वेळी" (not a year).
    assert asks_for_time("At what time did the ferry leave?") and not asks_for_year("What time did the ferry leave?")
    assert asks_for_time("फ़ेरी किस समय चली?") and asks_for_time("फेरी कोणत्या वेळी सुटली?")
    assert asks_for_duration("How many years did the line stay closed?") and asks_for_duration("किती वर्षे बंद होती?")
    assert asked_quantities("How much does the ferry cost, and how fast is it?") == {"price", "speed"}
    assert asked_quantities("महापौर की उम्र क्या है?") == {"age"}
    assert counted_phrase("How many gifts did the mayor get?") == "gifts"
    assert counted_words("शहराला किती टेस्ला बस मिळाल्या?") == {"टेस्ला", "बस"}


def test_a_question_for_the_number_of_something_asks_for_a_number() -> None:
    # "Which number" is asked without "how many": "the bus's number", "लाइन का नंबर", "बसचा क्रमांक".
    for question in (
        "What is the number of the night bus?",
        "Which number does the night bus have?",
        "रात की बस का नंबर क्या है?",
        "रात्रीच्या बसचा क्रमांक काय आहे?",
        "मार्ग की संख्या क्या है?",
    ):
        assert asks_for_number(question), question
    # A number named, "the number one", a word that holds "संख्या" (जनसंख्या, population): not asked.
    for question in (
        "What was the number one song of 1998?",
        "मार्ग संख्या 42 कहाँ जाता है?",
        "शहर की जनसंख्या पर क्या असर पड़ा?",
        "Who numbered the buses?",
    ):
        assert not asks_for_number(question), question
