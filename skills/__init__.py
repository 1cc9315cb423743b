"""The Alexa custom skill: intent handlers, speech texts, request verification, proactive events.

An entrypoint: it translates Alexa requests into commands for the core and results back into speech.
"""
