"""Two-player text games (PettingZoo AEC envs) and their single-agent Gymnasium ids.

The AEC envs live at the PettingZoo-style import path ``mtenvs.games.<name>_v0``.
"""

from __future__ import annotations

from mtenvs.core.registry import register_env

register_env("mtenvs/TicTacToe-v0", "mtenvs.envs.games.tictactoe:TicTacToeEnv")
register_env("mtenvs/ConnectFour-v0", "mtenvs.envs.games.connect_four:ConnectFourEnv")
register_env("mtenvs/KuhnPoker-v0", "mtenvs.envs.games.kuhn_poker:KuhnPokerEnv")
register_env("mtenvs/LeducHoldem-v0", "mtenvs.envs.games.leduc_holdem:LeducHoldemEnv")
register_env("mtenvs/LiarsDice-v0", "mtenvs.envs.games.liars_dice:LiarsDiceEnv")
register_env("mtenvs/Hanabi-v0", "mtenvs.envs.games.hanabi:HanabiEnv")
register_env("mtenvs/Negotiation-v0", "mtenvs.envs.games.negotiation:NegotiationEnv")
