"""Reference baselines: small transformers trained from scratch on mtenvs envs.

The pipeline (``python -m baselines.run``, ``make baselines``): collect oracle trajectories
with the rollout engine, train a tokenizer on the env text, behaviour-clone a small Llama-style
decoder, fine-tune it with multi-turn RL from env rewards (GRPO group baseline with turn-level
credit; GiGPO-style ``state_key`` grouping as an option), save the weights as safetensors in
``mtenvs/assets/baselines/<env>/`` where :class:`mtenvs.agents.HFAgent` loads them, and
score random / scripted / oracle / trained agents on the fixed eval sets.
"""
