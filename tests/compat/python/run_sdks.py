"""The official `openai` and `anthropic` Python packages, unchanged, against the gateway.

Run by scripts/sdk-test with NEUREUS_BASE_URL and NEUREUS_API_KEY set. Prints one line per
check and a closing 'N passed, N failed' line; exits non-zero on any failure.
"""
import json
import os
import sys
import traceback

import anthropic
import openai

BASE = os.environ["NEUREUS_BASE_URL"]
KEY = os.environ["NEUREUS_API_KEY"]
oai = openai.OpenAI(base_url=f"{BASE}/v1", api_key=KEY)
ant = anthropic.Anthropic(base_url=BASE, api_key=KEY)
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]


def openai_chat():
    r = oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}])
    assert "Say hello" in r.choices[0].message.content, r
    assert r.usage.total_tokens > 0


def openai_stream():
    text, usage = "", None
    for chunk in oai.chat.completions.create(model="claude-haiku-4-5", stream=True, stream_options={"include_usage": True},
                                             messages=[{"role": "user", "content": "Write a haiku"}]):
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    assert "haiku" in text, text
    assert usage and usage.completion_tokens > 0


def openai_tools():
    r = oai.chat.completions.create(model="meta/llama-3.3-70b", messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=TOOLS)
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"query": "Weather in Oslo?"}
    args = ""
    for chunk in oai.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "Weather in Rome?"}], tools=TOOLS):
        if chunk.choices and chunk.choices[0].delta.tool_calls:
            args += chunk.choices[0].delta.tool_calls[0].function.arguments or ""
    assert json.loads(args) == {"query": "Weather in Rome?"}, args


def openai_errors():
    try:
        oai.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    except openai.BadRequestError as e:
        assert "unknown model" in str(e)
    else:
        raise AssertionError("expected a 400")


def anthropic_message():
    m = ant.messages.create(model="claude-sonnet-4-6", max_tokens=256, system="Be brief.", messages=[{"role": "user", "content": "Hello there"}])
    assert m.content[0].type == "text" and "Hello there" in m.content[0].text, m
    assert m.stop_reason == "end_turn"
    assert m.usage.output_tokens > 0


def anthropic_stream():
    with ant.messages.stream(model="gpt-4o-mini", max_tokens=256, messages=[{"role": "user", "content": "Write a haiku"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert "haiku" in text, text
    assert final.stop_reason == "end_turn"


def anthropic_tools():
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]
    m = ant.messages.create(model="claude-haiku-4-5", max_tokens=256, tools=tools, messages=[{"role": "user", "content": "Weather in Lima?"}])
    block = next(b for b in m.content if b.type == "tool_use")
    assert block.name == "get_weather" and block.input == {"query": "Weather in Lima?"}, m
    with ant.messages.stream(model="meta/llama-3.3-70b", max_tokens=256, tools=tools, messages=[{"role": "user", "content": "Weather in Quito?"}]) as s:
        final = s.get_final_message()
    block = next(b for b in final.content if b.type == "tool_use")
    assert block.input == {"query": "Weather in Quito?"}, final


passed = failed = 0
for check in [openai_chat, openai_stream, openai_tools, openai_errors, anthropic_message, anthropic_stream, anthropic_tools]:
    try:
        check()
        passed += 1
        print(f"ok {check.__name__}")
    except Exception:  # noqa: BLE001 - report every failure, then fail the run
        failed += 1
        print(f"FAILED {check.__name__}")
        traceback.print_exc()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
