from chalicelib.domain import safe_text


def test_tags_braces_and_markup_characters_never_reach_a_reply():
    assert safe_text.one_line("<b>Ann</b> {ref} `x` a\\b", 100) == "Ann ref x ab"


def test_control_and_separator_characters_become_one_space():
    assert safe_text.one_line("Ann\n\tLee\u2028Smith\x00!", 100) == "Ann Lee Smith !"


def test_a_value_is_cut_to_its_limit_without_a_trailing_space():
    assert safe_text.one_line("abc def", 4) == "abc"
    assert safe_text.one_line(12345, 3) == "123"
