"""Defaults shared by every localcloud service (printed at start-up; override by CLI flags / env)."""

DEFAULT_ACCESS_KEY = "localcloud-ak"
DEFAULT_SECRET_KEY = "localcloud-sk"
DEFAULT_HOST = "127.0.0.1"
BOS_PORT = 18080
MCT_PORT = 18081
CFC_PORT = 18082
DEFAULT_DATA_DIR = ".localcloud"
REGION = "bj"
