import handlers.config as handlers_config
import localcloud.stack as stack


def test_localcloud_sets_the_environment_the_handlers_read():
    # localcloud never imports handlers/: its copy of the names is held to the handlers' own here.
    names = [
        "ENV_CONFIG_PATH",
        "ENV_CONFIG_JSON",
        "ENV_STORE_URL",
        "ENV_BOS_ENDPOINT",
        "ENV_ACCESS_KEY",
        "ENV_SECRET_KEY",
    ]
    assert {n: getattr(stack, n) for n in names} == {n: getattr(handlers_config, n) for n in names}
