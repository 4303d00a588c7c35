import datetime as dt

from edgeclean.stages.prompt import PINNED_DATE, SYSTEM_PROMPT, render_chat, strip_acknowledgement

# The date logic of Llama-3.2-Instruct's chat template, verbatim.
LLAMA_32_TEMPLATE = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- set system_message = messages[0]['content']|trim %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{{- '<|start_header_id|>user<|end_header_id|>\\n\\n' + messages[1]['content'] | trim + '<|eot_id|>' }}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""


def test_llama_template_gets_the_pinned_date_not_today():
    prompt = render_chat(LLAMA_32_TEMPLATE, "chunk text", bos_token="<|begin_of_text|>")
    assert "Today Date: 26 Jul 2024" in prompt
    assert dt.date.today().strftime("%d %b %Y") not in prompt or dt.date.today() == PINNED_DATE
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>system")
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_a_template_calling_strftime_now_also_gets_the_pinned_date():
    template = "{{ strftime_now('%Y-%m-%d') }}|{{ messages[1]['content'] }}"
    assert render_chat(template, "x") == "2024-07-26|x"


def test_prompt_uses_the_ggufs_own_template(tiny_model):
    prompt = render_chat(tiny_model.chat_template, "Some raw text.")
    assert prompt.startswith("<|im_start|>system\n" + SYSTEM_PROMPT)
    assert prompt.endswith("<|im_start|>user\nSome raw text.<|im_end|>\n<|im_start|>assistant\n")


def test_the_same_chunk_renders_identically_every_time(tiny_model):
    assert render_chat(tiny_model.chat_template, "abc") == render_chat(tiny_model.chat_template, "abc")


def test_missing_template_falls_back_to_chatml():
    assert render_chat(None, "hi").endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_acknowledgements_are_stripped():
    cases = {
        "Here is the cleaned text:\n\nKnowledge distillation works.": "Knowledge distillation works.",
        "Sure! Here's the processed text:\nKnowledge distillation works.": "Knowledge distillation works.",
        "Here is the cleaned-up version of the text: Knowledge distillation works.": "Knowledge distillation works.",
        "Cleaned text:\nKnowledge distillation works.": "Knowledge distillation works.",
    }
    for answer, expected in cases.items():
        assert strip_acknowledgement(answer, "Knowledge distillation works.") == (expected, True)


def test_real_content_is_not_mistaken_for_an_acknowledgement():
    for answer in (
        "Here we show that distillation works.",
        "Knowledge distillation works: it is cheap.",
        "Here is the main result: students match teachers.",
    ):
        assert strip_acknowledgement(answer, "whatever")[1] is False
    source = "Here is the text of the agreement: both parties agree."
    assert strip_acknowledgement(source, source) == (source, False)
