"""The liver U-Net: network, preprocessing shared by training and inference, augmentation, training,
inference with progress and cancel, the model card and the TensorFlow runtime (imported lazily)."""
