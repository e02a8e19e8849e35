# make demo's defaults, shared by pipelines/demo.sh and bench/models.sh
# (which measured them); each can be overridden from the environment.
DEMO_N=${DEMO_N:-300}
DEMO_SEED=${DEMO_SEED:-1}
DEMO_SIZE=${DEMO_SIZE:-64x64}
DEMO_EPOCHS=${DEMO_EPOCHS:-30}
DEMO_COPIES=${DEMO_COPIES:-1}
DEMO_ARCH=${DEMO_ARCH:-conv:16,pool,conv:32,pool,conv:64,pool,dense:64,dropout:0.5}
DEMO_TRAIN=${DEMO_TRAIN:-}
